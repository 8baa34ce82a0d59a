/**
 * `@defer` and `@stream` as this schema declares them: the definitions of `@graphql-tools/utils`
 * (which yoga's executor and its defer-stream plugin read), with descriptions for partners
 * reading the schema in GraphiQL. Delivery: see the README's "@defer and @stream".
 */
import { GraphQLDeferDirective, GraphQLStreamDirective } from '@graphql-tools/utils';
import { GraphQLDirective, type GraphQLDirectiveConfig } from 'graphql';
import { limitSentence } from '../db/limits.js';

/** A copy of `directive` with new descriptions for it and its arguments. */
function described(
  directive: GraphQLDirective,
  description: string,
  args: Record<string, string>,
): GraphQLDirective {
  const config: GraphQLDirectiveConfig = directive.toConfig();
  return new GraphQLDirective({
    ...config,
    description,
    args: Object.fromEntries(
      Object.entries(config.args ?? {}).map(([name, arg]) => [
        name,
        { ...arg, description: args[name] ?? arg.description },
      ]),
    ),
  });
}

/** `@defer`: a fragment sent in a later payload. */
export const DeferDirective = described(
  GraphQLDeferDirective,
  'Sends this fragment in a later payload (the 2022 incremental format): the rest of the answer does not wait for it. Needs `Accept: multipart/mixed` or `text/event-stream`. Store fields under it cost at most one more SQL statement for the whole fragment, however many objects it applies to; external-source fields are sent when their source answers. Ignored inside subscriptions.',
  {
    if: 'Deferred when true (the default); false sends the fragment with the rest.',
    label: `A name for this fragment, repeated in its payload (\`incremental[].label\`); unique in the operation. ${limitSentence('shortText')}`,
  },
);

/** `@stream`: a list's first items at once, the rest in later payloads. */
export const StreamDirective = described(
  GraphQLStreamDirective,
  'Sends the first `initialCount` items of this list with the rest of the answer and the others in later payloads (`incremental[].items`). Needs `Accept: multipart/mixed` or `text/event-stream`. Ignored inside subscriptions.',
  {
    if: 'Streamed when true (the default); false sends the whole list at once.',
    initialCount:
      'How many items come with the rest of the answer: 0 (the default) or more; null or a negative number is BAD_USER_INPUT.',
    label: `A name for this list, repeated in its payloads (\`incremental[].label\`); unique in the operation. ${limitSentence('shortText')}`,
  },
);
