import { createStore } from '@xstate/store';
import { describe, expect, it } from 'vitest';
import type { Approval } from '../../../server/console/context.js';
import { formEdits } from '../../../server/console/form-store.js';
import { formFields, readSchema } from '../../../server/console/schema-form.js';
import { createConsoleStore } from '../../../server/console/store.js';
import { schemaFixture } from '../../support/replicate-schemas.ts';

const SEEDANCE = schemaFixture('bytedance-seedance-1-pro');
const input = (SEEDANCE.openapi_schema as { components: { schemas: { Input: Record<string, unknown> } } })
  .components.schemas.Input;
const PAYLOAD = { prompt: 'a paper boat', image: 'https://files.example.com/boat.jpg' };

function approval(over: Partial<Approval> = {}): Approval {
  return {
    approval_id: 'a1',
    run_id: 'r1',
    checkpoint_type: 'payload_review',
    context: { payload: PAYLOAD, issues: [], input_schema: input, model: 'seedance' },
    actions: ['approve', 'edit', 'reject'],
    user_id: 'u1',
    session_id: null,
    reviewers: null,
    created_at: '2026-01-01T10:00:00.000Z',
    expires_at: '2026-01-01T11:00:00.000Z',
    status: 'pending',
    ...over,
  };
}

function editing(a = approval()) {
  const store = createConsoleStore(createStore);
  store.trigger.signedIn();
  store.trigger.requested({ approval: a });
  store.trigger.selected({ id: a.approval_id });
  store.trigger.editStarted();
  return store;
}

describe('the schema form', () => {
  it("lists the schema's fields in x-order with the control each one calls for", () => {
    const schema = readSchema(input);
    if (!schema) throw new Error('no schema');
    const fields = formFields(schema, PAYLOAD);
    expect(fields.map((f) => [f.name, f.kind])).toEqual([
      ['prompt', 'text'],
      ['image', 'uri'],
      ['last_frame_image', 'uri'],
      ['duration', 'integer'],
      ['resolution', 'select'],
      ['aspect_ratio', 'select'],
      ['fps', 'select'],
      ['camera_fixed', 'boolean'],
      ['seed', 'integer'],
    ]);
    expect(fields.find((f) => f.name === 'duration')).toMatchObject({ min: 3, max: 12 });
    expect(fields.find((f) => f.name === 'resolution')).toMatchObject({
      options: ['480p', '720p', '1080p'],
      description: 'Video resolution',
    });
  });

  it('reads an older-style enum through allOf as a select', () => {
    const schema = readSchema({
      properties: { scheduler: { allOf: [{ enum: ['DDIM', 'K_EULER'], type: 'string' }], 'x-order': 0 } },
      required: [],
    });
    if (!schema) throw new Error('no schema');
    expect(formFields(schema, {})[0]).toMatchObject({ kind: 'select', options: ['DDIM', 'K_EULER'] });
  });

  it('starts from the payload under review and edits it field by field in the store', () => {
    const store = editing();
    expect(store.getSnapshot().context.form).toMatchObject({ mode: 'form', values: PAYLOAD });

    store.trigger.formFieldChanged({ field: 'resolution', input: '"720p"' });
    store.trigger.formFieldChanged({ field: 'duration', input: '10' });
    store.trigger.formFieldChanged({ field: 'camera_fixed', input: true });
    const form = store.getSnapshot().context.form;
    if (!form) throw new Error('no form');
    const out = formEdits(approval(), form);
    const payload = { ...PAYLOAD, resolution: '720p', duration: 10, camera_fixed: true };
    expect(out.edits).toEqual({ payload });
    expect(out.blocked).toBe(false);
    // The diff shows exactly what the edit sends.
    expect(out.changes).toEqual([
      { field: 'resolution', kind: 'added', before: undefined, after: '720p' },
      { field: 'duration', kind: 'added', before: undefined, after: 10 },
      { field: 'camera_fixed', kind: 'added', before: undefined, after: true },
    ]);
  });

  it('keeps an out-of-range or malformed input beside its field and blocks sending until fixed', () => {
    const store = editing();
    store.trigger.formFieldChanged({ field: 'duration', input: '30' });
    store.trigger.formFieldChanged({ field: 'image', input: 'not a url' });
    let form = store.getSnapshot().context.form;
    if (!form) throw new Error('no form');
    expect(form.problems).toEqual({
      duration: 'duration must be from 3 to 12.',
      image: 'image must be an http(s) URL or a data: URI.',
    });
    expect(form.values).toEqual(PAYLOAD);
    expect(formEdits(approval(), form).blocked).toBe(true);

    store.trigger.formFieldChanged({ field: 'duration', input: '12' });
    store.trigger.formFieldChanged({ field: 'image', input: 'https://files.example.com/b.png' });
    form = store.getSnapshot().context.form;
    if (!form) throw new Error('no form');
    expect(form.problems).toEqual({});
    expect(form.values).toEqual({ ...PAYLOAD, duration: 12, image: 'https://files.example.com/b.png' });
    expect(formEdits(approval(), form).blocked).toBe(false);
  });

  it('leaves out a field set back to "not set", but refuses to empty one the payload has', () => {
    const store = editing();
    store.trigger.formFieldChanged({ field: 'resolution', input: '"480p"' });
    store.trigger.formFieldChanged({ field: 'resolution', input: '' });
    store.trigger.formFieldChanged({ field: 'prompt', input: '  ' });
    const form = store.getSnapshot().context.form;
    expect(form?.values).toEqual(PAYLOAD);
    expect(form?.problems).toEqual({ prompt: 'prompt is in the payload and cannot be left empty.' });
  });

  it('switches to the raw JSON and back, taking the JSON payload; cancelling drops the form', () => {
    const store = editing();
    store.trigger.formModeChanged({ mode: 'json' });
    expect(store.getSnapshot().context.form?.mode).toBe('json');
    store.trigger.formModeChanged({ mode: 'form', values: { ...PAYLOAD, fps: 24 } });
    expect(store.getSnapshot().context.form).toMatchObject({ mode: 'form', values: { ...PAYLOAD, fps: 24 } });
    store.trigger.editCancelled();
    expect(store.getSnapshot().context.form).toBeNull();
  });

  it('offers no form without a schema or at other checkpoints (the JSON editor alone)', () => {
    const plain = approval({ context: { payload: PAYLOAD, issues: [] } });
    expect(editing(plain).getSnapshot().context.form).toBeNull();
    const review = approval({ checkpoint_type: 'response_review' });
    expect(editing(review).getSnapshot().context.form).toBeNull();
    const store = editing(plain);
    store.trigger.formFieldChanged({ field: 'prompt', input: 'x' });
    expect(store.getSnapshot().context.form).toBeNull();
  });
});
