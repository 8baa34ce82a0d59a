/**
 * Global IDs checked against the node-type registry: the decoder `Query.node`, `Query.nodes`,
 * the planner and the relay plugin (`decodeGlobalID`) all use. The byte format is the codec's
 * (`src/codecs.ts`); which types and keys exist is `NODE_TYPES`'.
 */
import { parseGlobalId } from '../codecs.js';
import { BadUserInputError } from '../errors.js';
import { GLOBAL_ID_KEYS, TEXT_LIMITS } from './limits.js';
import { isNodeType, NODE_TYPES, type NodeKey, type NodeTypeName } from './node-types.js';
import { SLUG_PATTERN } from './writes/common.js';

/** The shape of each kind of key: a slug, or a positive row id within 2^53 (16 digits). */
const KEY_PATTERNS: Record<NodeKey, RegExp> = {
  slug: SLUG_PATTERN,
  id: /^[1-9][0-9]{0,15}$/,
};

/** A decoded, checked global ID: its node type and its key (a slug, or a row id as text). */
export interface DecodedGlobalId {
  typename: NodeTypeName;
  id: string;
}

/**
 * Decodes and checks a global ID: at most `TEXT_LIMITS.globalId` characters, base64 of
 * `Type:key`, a node type of `NODE_TYPES`, a key of its shape and at most its length
 * (`GLOBAL_ID_KEYS`). Throws `BadUserInputError` otherwise (an ID too long for any object is
 * refused before execution by the limit its argument declares; this check repeats it for other
 * callers). `expected` restricts the accepted types.
 */
export function decodeGlobalId(globalId: string, expected?: readonly string[]): DecodedGlobalId {
  const shown = globalId.length > 80 ? `${globalId.slice(0, 80)}...` : globalId;
  const parts = globalId.length > TEXT_LIMITS.globalId ? undefined : parseGlobalId(globalId);
  if (!parts) {
    throw new BadUserInputError(`"${shown}" is not a chipgate ID (expected base64 of "Type:key").`);
  }
  const { typename, key } = parts;
  if (!isNodeType(typename)) {
    throw new BadUserInputError(
      `"${shown}" is not a chipgate ID: it does not name a type with IDs (${Object.keys(NODE_TYPES).join(', ')}).`,
    );
  }
  if (key.length > GLOBAL_ID_KEYS[typename] || !KEY_PATTERNS[NODE_TYPES[typename].key].test(key)) {
    throw new BadUserInputError(
      `"${shown}" is not a valid ${typename} ID: its key is empty or malformed.`,
    );
  }
  if (expected && !expected.includes(typename)) {
    throw new BadUserInputError(
      `"${shown}" is a ${typename} ID; expected ${expected.join(' or ')}.`,
    );
  }
  return { typename, id: key };
}
