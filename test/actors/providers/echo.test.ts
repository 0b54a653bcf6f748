import { describe, expect, it } from 'vitest';
import { createEchoProvider } from '../../../actors/providers/echo.ts';
import { ProviderError } from '../../../actors/providers/types.ts';

const req = (prompt: string, attachments: string[] = []) => ({ prompt, attachments, model_config: {} });

describe('the echo provider', () => {
  it('runs a prompt end to end: the output is the submitted payload, verbatim', async () => {
    const echo = createEchoProvider({ newId: () => 'fixed-id' });
    const report = await echo.capabilities(req('Hello'));
    expect(report.capabilities).toEqual({
      provider: 'echo',
      model: 'echo',
      version: null,
      schema: { prompt: '', attachments: [] },
      required: [],
      types: { prompt: 'string', attachments: 'array' },
      operation_type: 'echo',
      estimated_cost: 0,
    });
    expect(report.confidence).toBe(1);

    const built = echo.buildPayload(req('Hello'), report.capabilities);
    expect(built).toMatchObject({ payload: { prompt: 'Hello' }, issues: [], changed_fields: 0 });

    const ref = await echo.submit(report.capabilities, built.payload);
    expect(ref).toMatchObject({ id: 'echo-fixed-id', status: 'succeeded', created_at: expect.any(String) });
    expect(ref.final?.output).toEqual({ prompt: 'Hello' });
    expect(await echo.poll(ref.id)).toEqual(ref.final);
    const processed = echo.processOutput(await echo.poll(ref.id));
    expect(processed).toMatchObject({ output: { prompt: 'Hello' }, quality: 1 });
    expect(echo.configured()).toBe(true);
    expect(echo.estimateCost(req('x'))).toBe(0);
  });

  it('adds attachments to the payload only when there are some', async () => {
    const echo = createEchoProvider();
    const { capabilities } = await echo.capabilities(req('x'));
    const built = echo.buildPayload(req('Look', ['https://f.example.com/a.png']), capabilities);
    expect(built.payload).toEqual({ prompt: 'Look', attachments: ['https://f.example.com/a.png'] });
    expect(built.issues).toEqual([]);
    const ref = await echo.submit(capabilities, built.payload);
    expect(ref.id).toMatch(/^echo-[0-9a-f-]{36}$/);
    expect(echo.processOutput(await echo.poll(ref.id)).urls).toEqual(['https://f.example.com/a.png']);
  });

  it('echoes an edited payload exactly as sent', async () => {
    const echo = createEchoProvider();
    const { capabilities } = await echo.capabilities(req('x'));
    const payload = { prompt: 'edited', extra: { nested: [1, 2] } };
    expect(echo.validatePayload(req('x'), capabilities, payload).changed_fields).toBe(1);
    expect((await echo.submit(capabilities, payload)).final?.output).toEqual(payload);
  });

  it('answers provider_error for an unknown prediction and forgets beyond 1000', async () => {
    let n = 0;
    const next = () => {
      n += 1;
      return String(n);
    };
    const echo = createEchoProvider({ newId: next });
    const { capabilities } = await echo.capabilities(req('x'));
    await expect(echo.poll('echo-missing')).rejects.toBeInstanceOf(ProviderError);
    for (let i = 0; i < 1001; i += 1) await echo.submit(capabilities, { prompt: String(i) });
    await expect(echo.poll('echo-1')).rejects.toMatchObject({ kind: 'provider_error' });
    expect((await echo.poll('echo-1001')).output).toEqual({ prompt: '1000' });
  });
});
