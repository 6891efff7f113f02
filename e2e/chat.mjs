// The chat flow as an Apollo Client 4 app sees it, against a running server:
//   node chat.mjs http://127.0.0.1:8000/graphql
// Mutations over HTTP; messageStream over WebSocket (GraphQLWsLink) and over multipart HTTP
// (HttpLink alone); resuming with afterSequence; stopGeneration; typed errors. Any mismatch
// exits non-zero with what differed.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { getMainDefinition } from "@apollo/client/utilities";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const HTTP_URL = process.argv[2] || process.env.SYNAPSE_GRAPHQL_URL || "http://127.0.0.1:8000/graphql";
const WS_URL = HTTP_URL.replace(/^http/, "ws");
const TIMEOUT_MS = 30_000;

const REGISTER = gql`
  mutation Register($input: RegisterInput!) {
    register(input: $input) {
      __typename
      ... on AuthPayload { accessToken user { id } }
      ... on UserError { code message path }
    }
  }
`;
const LOGIN = gql`
  mutation Login($input: LoginInput!) {
    login(input: $input) {
      __typename
      ... on AuthPayload { accessToken }
      ... on UserError { code message path }
    }
  }
`;
const CREATE_WORKSPACE = gql`
  mutation CreateWorkspace($input: CreateWorkspaceInput!) {
    createWorkspace(input: $input) {
      __typename
      ... on Workspace { id }
      ... on UserError { code message path }
    }
  }
`;
const CREATE_CONVERSATION = gql`
  mutation CreateConversation($input: CreateConversationInput!) {
    createConversation(input: $input) {
      __typename
      ... on Conversation { id }
      ... on UserError { code message path }
    }
  }
`;
const SEND = gql`
  mutation SendMessage($input: SendMessageInput!) {
    sendMessage(input: $input) {
      __typename
      ... on ChatTurn { assistantMessage { id status } }
      ... on UserError { code message path }
    }
  }
`;
const STOP = gql`
  mutation StopGeneration($input: StopGenerationInput!) {
    stopGeneration(input: $input) {
      __typename
      ... on Message { id status }
      ... on UserError { code message path }
    }
  }
`;
const MESSAGE_STREAM = gql`
  subscription MessageStream($messageId: ID!, $afterSequence: Int! = 0) {
    messageStream(messageId: $messageId, afterSequence: $afterSequence) {
      __typename
      ... on MessageDelta { messageId sequence offset text }
      ... on MessageCompleted { sequence message { id status content } usage { outputTokens } }
      ... on MessageFailed { sequence code error }
      ... on SubscriptionRefused { code reason }
    }
  }
`;
const ENDS = new Set(["MessageCompleted", "MessageFailed", "SubscriptionRefused"]);

function check(condition, what, detail) {
  if (!condition) {
    throw new Error(`${what}${detail === undefined ? "" : `: ${JSON.stringify(detail)}`}`);
  }
}

const noCache = {
  query: { fetchPolicy: "no-cache" },
  mutate: { fetchPolicy: "no-cache" },
  watchQuery: { fetchPolicy: "no-cache" },
};

function httpOnlyClient(token) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const link = new HttpLink({ uri: HTTP_URL, headers });
  return new ApolloClient({ link, cache: new InMemoryCache(), defaultOptions: noCache });
}

function webSocketClient(token) {
  const sockets = createClient({
    url: WS_URL,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
  });
  const isSubscription = ({ query }) => {
    const definition = getMainDefinition(query);
    return definition.kind === "OperationDefinition" && definition.operation === "subscription";
  };
  const http = new HttpLink({ uri: HTTP_URL, headers: { Authorization: `Bearer ${token}` } });
  const link = ApolloLink.split(isSubscription, new GraphQLWsLink(sockets), http);
  const client = new ApolloClient({ link, cache: new InMemoryCache(), defaultOptions: noCache });
  return { client, close: () => sockets.dispose() };
}

async function mutate(client, mutation, field, input, expected) {
  const { data } = await client.mutate({ mutation, variables: { input } });
  const payload = data[field];
  check(payload.__typename === expected, `${field} returned ${payload.__typename}`, payload);
  return payload;
}

// Events of one messageStream until its end; onEvent may act on the way (stop, give up).
function stream(client, variables, onEvent = () => {}) {
  return new Promise((resolve, reject) => {
    const events = [];
    const timer = setTimeout(() => reject(new Error(`no end within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    const finish = (error) => {
      clearTimeout(timer);
      subscription.unsubscribe();
      error ? reject(error) : resolve(events);
    };
    const subscription = client.subscribe({ query: MESSAGE_STREAM, variables }).subscribe({
      next: (result) => {
        if (result.error) return finish(result.error);
        const event = result.data.messageStream;
        events.push(event);
        if (ENDS.has(event.__typename)) return finish();
        Promise.resolve(onEvent(event, events)).catch(finish);
      },
      error: finish,
      complete: () => finish(new Error(`completed without an end event: ${JSON.stringify(events)}`)),
    });
  });
}

function contiguous(deltas, after = 0, offset = 0) {
  deltas.forEach((delta, index) => {
    check(delta.__typename === "MessageDelta", "a delta expected", delta);
    check(delta.sequence === after + index + 1, "deltas out of order", deltas.map((d) => d.sequence));
    check(delta.offset === offset, "offsets do not add up", delta);
    offset += delta.text.length;
  });
  return deltas.map((d) => d.text).join("");
}

function completedWhole(events, label) {
  const deltas = events.slice(0, -1);
  const end = events.at(-1);
  check(end.__typename === "MessageCompleted", `${label}: ended with ${end.__typename}`, end);
  check(deltas.length > 0, `${label}: no delta`);
  const text = contiguous(deltas);
  check(end.message.content === text, `${label}: the deltas do not make the content`);
  check(end.sequence === deltas.at(-1).sequence, `${label}: end sequence`, end);
  return { deltas, end, text };
}

async function signUp() {
  const anonymous = httpOnlyClient();
  const email = `apollo-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
  const password = "correct horse battery staple";
  await mutate(anonymous, REGISTER, "register", { email, name: "Apollo", password }, "AuthPayload");
  const login = await mutate(anonymous, LOGIN, "login", { email, password }, "AuthPayload");
  return login.accessToken;
}

async function main() {
  const token = await signUp();
  const http = httpOnlyClient(token);
  const ws = webSocketClient(token);
  try {
    const workspace = await mutate(http, CREATE_WORKSPACE, "createWorkspace", { name: "Apollo team" }, "Workspace");
    const conversation = await mutate(http, CREATE_CONVERSATION, "createConversation", { workspaceId: workspace.id }, "Conversation");
    const ask = async (content) => {
      const turn = await mutate(http, SEND, "sendMessage", { conversationId: conversation.id, content }, "ChatTurn");
      return turn.assistantMessage.id;
    };

    // 1. Over WebSocket (GraphQLWsLink).
    const first = await ask("Hello over WebSocket");
    const overWs = completedWhole(await stream(ws.client, { messageId: first }), "WebSocket");
    check(overWs.text.startsWith("You said: Hello over WebSocket"), "unexpected answer", overWs.text);

    // 2. Over multipart HTTP (HttpLink only), while the answer is written.
    const second = await ask("Hello over multipart HTTP");
    const overHttp = completedWhole(await stream(http, { messageId: second }), "multipart HTTP");
    check(overHttp.end.usage.outputTokens > 0, "no usage at the end", overHttp.end);

    // 3. Resuming after sequence k gets k+1.. then the end, over both transports.
    const k = 2;
    for (const [label, client] of [["WebSocket", ws.client], ["HTTP", http]]) {
      const rest = await stream(client, { messageId: second, afterSequence: k });
      const restText = contiguous(rest.slice(0, -1), k, overHttp.deltas.slice(0, k).map((d) => d.text).join("").length);
      check(overHttp.text === overHttp.deltas.slice(0, k).map((d) => d.text).join("") + restText, `resume over ${label}`);
      check(rest.at(-1).__typename === "MessageCompleted", `resume over ${label} ended`, rest.at(-1));
    }

    // 4. Stopping a slow answer mid-stream ends it CANCELLED.
    const third = await ask("Please write a long story about stopping ".repeat(8));
    let stopped = false;
    const events = await stream(http, { messageId: third }, async (event, seen) => {
      if (!stopped && seen.length === 2) {
        stopped = true;
        const message = await mutate(http, STOP, "stopGeneration", { messageId: third }, "Message");
        check(["CANCELLED", "STREAMING"].includes(message.status), "stop answered", message);
      }
    });
    check(stopped, "the answer ended before it could be stopped", events.length);
    const end = events.at(-1);
    check(end.__typename === "MessageCompleted" && end.message.status === "CANCELLED", "stop", end);
    contiguous(events.slice(0, -1));

    // 5. Typed errors: a user error with its code and path, and 401 without credentials.
    const { data } = await http.mutate({ mutation: SEND, variables: { input: { conversationId: "Q29udmVyc2F0aW9uOjA=", content: "?" } } });
    const refused = data.sendMessage;
    check(refused.__typename !== "ChatTurn" && typeof refused.code === "string", "typed error", refused);
    let status = null;
    try {
      await stream(httpOnlyClient(), { messageId: second });
    } catch (error) {
      status = error.statusCode ?? null;
    }
    check(status === 401, "an anonymous HTTP subscription is refused 401", status);

    console.log(
      `ok: ${overWs.deltas.length} deltas over WebSocket, ${overHttp.deltas.length} over multipart HTTP, ` +
        `resumed after ${k}, stopped after ${events.length - 1}, error ${refused.code}`,
    );
  } finally {
    ws.close();
  }
}

main().catch((error) => {
  console.error(`e2e failed: ${error.stack || error}`);
  process.exit(1);
});
