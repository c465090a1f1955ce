// SIP.js over WebSocket against a referkit engine (driven by tests/interop/transport).
// Usage: node harness.mjs ws://127.0.0.1:PORT sip:referkit@127.0.0.1
// Sends one MESSAGE to the target (expects 2xx) and waits for one MESSAGE from the engine over
// the same connection (answers 200 via delegate.onMessage). Exit 0 when both happened, 1 otherwise.
import WebSocket from "ws";
import { Messager, UserAgent } from "sip.js";

globalThis.WebSocket = WebSocket; // Node 20 has no WebSocket global

const [server, target] = process.argv.slice(2);
if (!server || !target) {
  console.error("usage: node harness.mjs ws://host:port sip:user@host");
  process.exit(2);
}

let sentAccepted = false;
let received = null;
const fail = (why) => {
  console.error(`FAIL: ${why}`);
  process.exit(1);
};
const timer = setTimeout(() => fail(`timed out (sent accepted: ${sentAccepted}, received: ${received !== null})`), 15000);

const finishIfDone = async (ua) => {
  if (!sentAccepted || received === null) return;
  clearTimeout(timer);
  console.log(`OK: MESSAGE accepted by referkit; MESSAGE received from referkit: ${JSON.stringify(received)}`);
  await ua.stop().catch(() => {});
  process.exit(0);
};

const ua = new UserAgent({
  uri: UserAgent.makeURI("sip:sipjs@example.com"),
  transportOptions: { server },
  logLevel: "warn",
  delegate: {
    onMessage(message) {
      received = message.request.body;
      console.log(`received MESSAGE ${message.request.ruri} body=${JSON.stringify(received)}`);
      message.accept().then(() => finishIfDone(ua), (e) => fail(`accept failed: ${e}`));
    },
  },
});

try {
  await ua.start();
  console.log(`connected to ${server}`);
  const messager = new Messager(ua, UserAgent.makeURI(target), "hello from sip.js");
  await messager.message({
    requestDelegate: {
      onAccept(response) {
        console.log(`MESSAGE answered ${response.message.statusCode}`);
        sentAccepted = true;
        finishIfDone(ua);
      },
      onReject(response) {
        fail(`MESSAGE rejected with ${response.message.statusCode}`);
      },
    },
  });
} catch (e) {
  fail(`${e}`);
}
