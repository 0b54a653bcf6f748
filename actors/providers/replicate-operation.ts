import { isMediaField, promptFieldOf } from './replicate-schema.ts';

type MediaKind = 'image' | 'video' | 'audio' | 'file';

function mediaKind(field: string, example: unknown): MediaKind {
  const hint = `${field} ${typeof example === 'string' ? example.slice(0, 200) : ''}`.toLowerCase();
  if (/video|\.(mp4|mov|webm)\b/.test(hint)) return 'video';
  if (/audio|speaker|voice|\.(mp3|wav|flac|ogg|m4a)\b/.test(hint)) return 'audio';
  if (/image|mask|frame|img|\.(png|jpe?g|webp|gif)\b/.test(hint)) return 'image';
  return 'file';
}

const VIDEO_WORDS = /\b(videos?|animat\w*|motion)\b/;
const AUDIO_WORDS = /\b(audio|music|speech|voice|song|sound|tts)\b/;
const IMAGE_WORDS = /\b(images?|photos?|pictures?|diffusion|sdxl|flux|illustrations?|art)\b/;
const TEXT_WORDS = /\b(llm|language model|chat|instruct\w*|completions?|assistant)\b/;
const IMAGE_FIELDS = [
  'width',
  'height',
  'aspect_ratio',
  'num_outputs',
  'guidance_scale',
  'num_inference_steps',
];
const TEXT_FIELDS = ['max_tokens', 'max_new_tokens', 'temperature', 'top_p', 'top_k', 'system_prompt'];

/**
 * A documented guess of what the model does, from what the config shows (never from a network call):
 * 1. a video input → `video-to-video`;
 * 2. an image input → `image-to-video` when the name/description speaks of video, else `image-to-image`;
 * 3. an audio input → `text-to-audio` with a prompt field (e.g. a melody), else `audio-to-text`;
 * 4. a prompt only → by name/description words and config fields: `text-to-video`, `text-to-image`,
 *    `text-to-audio`, `text-generation`;
 * 5. otherwise `prediction` (we do not know).
 */
export function operationTypeOf(
  schema: Record<string, unknown> | null,
  types: Record<string, string>,
  model: string | null,
  description: string,
): string {
  const words = `${model ?? ''} ${description}`.toLowerCase();
  const fields = schema ? Object.keys(schema) : [];
  const kinds = new Set(
    fields.filter((f) => isMediaField(f, schema?.[f])).map((f) => mediaKind(f, schema?.[f])),
  );
  // Without a schema the payload is `{ prompt }`: the words alone decide.
  const hasPrompt = promptFieldOf(schema, types) !== null;
  if (kinds.has('video')) return 'video-to-video';
  if (kinds.has('image')) return VIDEO_WORDS.test(words) ? 'image-to-video' : 'image-to-image';
  if (kinds.has('audio')) return hasPrompt ? 'text-to-audio' : 'audio-to-text';
  if (!hasPrompt) return 'prediction';
  if (VIDEO_WORDS.test(words)) return 'text-to-video';
  if (IMAGE_WORDS.test(words) || IMAGE_FIELDS.some((f) => fields.includes(f))) return 'text-to-image';
  if (AUDIO_WORDS.test(words)) return 'text-to-audio';
  if (TEXT_WORDS.test(words) || TEXT_FIELDS.some((f) => fields.includes(f))) return 'text-generation';
  return 'prediction';
}
