// The user API through the BFF with the official Node clients (@connectrpc/connect-node), in every protocol
// they speak: sign-up, a signed-in read of one's own account, BOLA (another user's id) and no token.
// Run by e2e/tests/independent_clients.rs with BASE_URL, TOKEN, USER_ID and OTHER_ID set.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { UserService } from "../../target/node-gen/user/v1/user_service_pb.js";

const { BASE_URL: baseUrl, TOKEN, USER_ID, OTHER_ID } = process.env;
const transports = {
  "connect-json": createConnectTransport({ baseUrl, httpVersion: "1.1" }),
  "connect-proto": createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true }),
  "connect-h2": createConnectTransport({ baseUrl, httpVersion: "2" }),
  "grpc-web": createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }),
  "grpc": createGrpcTransport({ baseUrl }),
};
const signedIn = { headers: { authorization: `Bearer ${TOKEN}` } };

async function expectCode(call, code) {
  try {
    await call();
  } catch (e) {
    if (ConnectError.from(e).code === code) return;
    throw new Error(`expected ${Code[code]}, got ${e}`);
  }
  throw new Error(`expected ${Code[code]}, got success`);
}

let failed = 0;
for (const [name, transport] of Object.entries(transports)) {
  const users = createClient(UserService, transport);
  try {
    const email = `node-${name}@example.com`;
    const created = await users.createUser({ email, password: "correct horse" });
    if (created.user?.email !== email) throw new Error(`sign-up returned ${JSON.stringify(created.user)}`);
    const own = await users.getUser({ id: USER_ID }, signedIn);
    if (own.user?.id !== USER_ID) throw new Error(`own account returned ${JSON.stringify(own.user)}`);
    await expectCode(() => users.getUser({ id: OTHER_ID }, signedIn), Code.PermissionDenied);
    await expectCode(() => users.getUser({ id: USER_ID }), Code.Unauthenticated);
    console.log(`ok ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e}`);
  }
}
process.exit(failed ? 1 : 0);
