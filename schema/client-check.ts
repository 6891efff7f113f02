// Compiled by check-types.sh with the generated types: what a typed client relies on.
import type {
  ConversationEventsSubscription,
  MessageStreamSubscription,
  SendMessageMutation,
} from "./generated/operations";

type StreamEvent = MessageStreamSubscription["messageStream"];

// Stream events narrow on __typename; offsets count UTF-16 code units, as JavaScript
// strings do, so placing `text` at `offset` with string indices rebuilds the answer.
export function place(answer: string, event: StreamEvent): string {
  switch (event.__typename) {
    case "MessageDelta":
      return answer.slice(0, event.offset) + event.text;
    case "MessageCompleted":
      return event.message.content;
    case "MessageFailed":
    case "SubscriptionRefused":
      return answer;
  }
}

// Money is a Decimal string, never a float; error codes are a closed set.
export function endCost(event: ConversationEventsSubscription["conversationEvents"]): string | null {
  if (event.__typename === "MessageCompleted") {
    return event.usage?.cost ?? null;
  }
  return null;
}

export function turnError(result: SendMessageMutation["sendMessage"]): string | null {
  return result.__typename === "UserError" ? `${result.code}: ${result.message}` : null;
}
