// Images given as data on their way to Claude (Anthropic Messages, and Bedrock's Converse after it): the type each is
// sent as, read from its bytes before its label, and why one cannot be sent — checked before any attempt by every
// translation that reaches Claude (chat, Responses, Gemini's generateContent: index.ts, gemini-via-chat.ts) and
// applied by the one that writes the blocks (chat-via-messages.ts). docs/decisions/translation.md.
import { obj } from '../formats/types.ts';
import { objects } from './json.ts';
import { fileText, isTextMediaType, parseDataUrl, type DataUrl } from './data-url.ts';

/**
 * A data URL's image type as Messages takes it: Anthropic refuses any spelling but `image/jpeg`, `image/png`,
 * `image/gif` and `image/webp` (400), and a JPEG is often labelled `image/jpg` (browsers, pasteboards, many tools),
 * which OpenAI reads.
 */
function imageType(mediaType: string): string {
  const type = mediaType.toLowerCase();
  return type === 'image/jpg' ? 'image/jpeg' : type;
}

/** The image types Claude reads — and Bedrock's Converse, whose `image.format` is one of the four. */
const CLAUDE_IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);

/** The four types' signatures, at the start of the bytes (WebP's after RIFF's size). */
function signedImageType(head: Buffer): string | undefined {
  if (head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'image/jpeg';
  const ascii = head.toString('latin1');
  if (ascii.startsWith('GIF87a') || ascii.startsWith('GIF89a')) return 'image/gif';
  return ascii.startsWith('RIFF') && ascii.slice(8, 12) === 'WEBP' ? 'image/webp' : undefined;
}

/**
 * An image's type as Claude is sent it: the one its bytes are, when they are one of the four, else its data URL's.
 * A data URL often names no type (`data:;base64,`, which RFC 2397 reads as text) or a generic one
 * (`application/octet-stream`), or the wrong one (a JPEG saved as `.png`): OpenAI reads such images by their bytes,
 * while Anthropic refuses a type its bytes do not match (400), and the label alone had them refused.
 */
export function claudeImageType(image: DataUrl): string {
  return signedImageType(Buffer.from(image.base64.slice(0, 16), 'base64')) ?? imageType(image.mediaType);
}

/** An image given as data in a type Claude reads not as an image but as text (SVG): its source, else undefined. */
export function imageSource(image: DataUrl): string | undefined {
  return CLAUDE_IMAGE_TYPES.has(claudeImageType(image)) ? undefined : fileText(image);
}

/**
 * Why an image given as data (a data URL: chat's `image_url`, Responses' `input_image`, Gemini's `inlineData` as
 * translate/gemini-via-chat.ts writes it) cannot reach Claude, nor Converse's models after it, naming its type, if
 * it cannot: both take JPEG, PNG, GIF and WebP alone, and Anthropic's 400 came only after the attempt (a HEIC photo
 * from a phone, a BMP, a TIFF). An image in a text format — SVG, XML — goes as a text document of its source
 * (`block`), which Claude reads as it reads a `.svg` file; one whose bytes are not text (a compressed `.svgz`) is
 * refused too. An image by URL passes: its type is known only to whoever fetches it.
 */
export function unsendableImageReason(url: string): string | undefined {
  const image = parseDataUrl(url);
  if (!image) return undefined;
  const type = claudeImageType(image);
  if (CLAUDE_IMAGE_TYPES.has(type) || imageSource(image) !== undefined) return undefined;
  const text = isTextMediaType(type) ? ', nor read as its source text (its bytes are not text in UTF-8 or the charset its data URL names)' : '';
  return `it sends an image of type "${type.slice(0, 100)}", which Claude and Bedrock's Converse cannot take (they read JPEG, PNG, GIF and WebP images)${text}; convert it to one of those`;
}

/** Whether an image's data URL goes to Claude as its source text (SVG: `block`), not as an image. */
export function goesAsSource(url: string): boolean {
  const image = parseDataUrl(url);
  return image !== undefined && imageSource(image) !== undefined;
}

/** The first chat image given as data that cannot reach Claude (`unsendableImageReason`), in user and tool messages. */
export function unsendableChatImageReason(messages: unknown): string | undefined {
  for (const m of objects(messages)) {
    for (const p of objects(m.content)) {
      const url = p.type === 'image_url' ? (typeof p.image_url === 'string' ? p.image_url : obj(p.image_url)?.url) : undefined;
      const reason = typeof url === 'string' ? unsendableImageReason(url) : undefined;
      if (reason !== undefined) return reason;
    }
  }
  return undefined;
}
