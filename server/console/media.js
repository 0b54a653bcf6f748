// @ts-check
/**
 * Model outputs as media. Only https URLs and data URIs are shown (the page's CSP loads media from
 * nowhere else); Replicate deletes outputs after about an hour, so a review that starts later says
 * the files may be gone, and a file that does not load says so too.
 */
import { asObject, duration, h, json } from './dom.js';

/** Replicate deletes API prediction outputs after about an hour (SPEC §5). */
export const MEDIA_TTL_MS = 60 * 60 * 1000;

const IMAGE = /\.(png|jpe?g|gif|webp|avif|bmp|svg)$/i;
const VIDEO = /\.(mp4|webm|mov|m4v|ogv)$/i;
const AUDIO = /\.(mp3|wav|ogg|oga|flac|m4a|aac|opus)$/i;
const MAX_MEDIA = 12;

/**
 * What an output value can be shown as: an image, a video, an audio clip, or nothing special.
 * Only https and data URIs qualify (the page's CSP loads media from nowhere else).
 * @param {string} value
 * @returns {'image' | 'video' | 'audio' | null}
 */
export function mediaKind(value) {
  const data = /^data:(image|video|audio)\//i.exec(value);
  if (data) return /** @type {'image' | 'video' | 'audio'} */ ((data[1] ?? '').toLowerCase());
  let url;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:') return null;
  if (IMAGE.test(url.pathname)) return 'image';
  if (VIDEO.test(url.pathname)) return 'video';
  if (AUDIO.test(url.pathname)) return 'audio';
  return null;
}

/**
 * Every string in a value that is a media URL, in order (at most MAX_MEDIA).
 * @param {unknown} value
 * @param {string[]} [found]
 */
function mediaUrls(value, found = []) {
  if (found.length >= MAX_MEDIA) return found;
  if (typeof value === 'string') {
    if (mediaKind(value) && !found.includes(value)) found.push(value);
  } else if (Array.isArray(value)) {
    for (const v of value) mediaUrls(v, found);
  } else if (asObject(value)) {
    for (const v of Object.values(/** @type {object} */ (value))) mediaUrls(v, found);
  }
  return found;
}

/**
 * One medium, with a link to the original and a note when it cannot be loaded.
 * @param {string} url
 * @param {number} index
 */
function mediaView(url, index) {
  const kind = mediaKind(url);
  const label = `Output ${kind} ${index + 1}`;
  /** @type {HTMLElement} */
  let player;
  if (kind === 'image') player = h('img', { src: url, alt: label, loading: 'lazy' });
  else player = h(kind === 'video' ? 'video' : 'audio', { src: url, controls: true, preload: 'metadata' });
  player.setAttribute('aria-label', label);
  const failed = h('p', { class: 'error', hidden: true }, 'Could not load this file; it may have expired.');
  player.addEventListener('error', () => {
    player.hidden = true;
    failed.hidden = false;
  });
  const link = url.startsWith('https:')
    ? h('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, url)
    : null;
  return h('figure', { class: 'media-item' }, player, failed, link);
}

/**
 * A model output: its media as media, and the value itself as JSON unless it is only media.
 * @param {unknown} output
 */
export function outputView(output) {
  const urls = mediaUrls(output);
  const onlyMedia =
    urls.length > 0 &&
    (typeof output === 'string' ||
      (Array.isArray(output) && output.every((v) => typeof v === 'string' && mediaKind(v))));
  return h(
    'div',
    { class: 'output' },
    urls.length > 0 ? h('div', { class: 'media' }, ...urls.map(mediaView)) : null,
    onlyMedia ? null : json(output, 'Output as JSON'),
  );
}

/**
 * The notice that media of an old prediction may be gone; the page's clock shows it once an hour
 * has passed since `completed_at` (see `tick` in console.js).
 * @param {unknown} completedAt
 */
export function expiryNotice(completedAt) {
  if (typeof completedAt !== 'string' || Number.isNaN(Date.parse(completedAt))) return null;
  const notice = h('p', { class: 'notice', role: 'note', 'data-completed-at': completedAt });
  updateExpiryNotice(notice, Date.now());
  return notice;
}

/**
 * @param {HTMLElement} notice an `expiryNotice`
 * @param {number} now
 */
export function updateExpiryNotice(notice, now) {
  const age = now - Date.parse(notice.dataset.completedAt ?? '');
  const old = age > MEDIA_TTL_MS;
  notice.hidden = !old;
  const label = old
    ? `Replicate deletes outputs after about an hour; this media may have expired. The prediction completed ${duration(age)} ago.`
    : '';
  if (notice.textContent !== label) notice.textContent = label;
}
