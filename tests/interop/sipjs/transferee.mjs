// SIP.js 0.21 (npm) as the TRANSFEREE of an in-dialog transfer, over WebSocket, against referkit
// (driven by tests/interop/refer/refer_interop_test.cpp).
//
// Usage: node transferee.mjs ws://127.0.0.1:TRANSFEROR_PORT ws://127.0.0.1:TARGET_PORT [CALL_URI]
// (with CALL_URI, e.g. sip:alice@127.0.0.1:PORT;transport=ws, SIP.js calls the transferor instead
// of waiting for its INVITE; the transfer that follows is the same).
//
// One SIP.js UserAgent (AOR sip:sipjs@example.com, registers nothing) that connects as a WebSocket
// client to both referkit servers. SIP.js 0.21 has exactly one transport per UserAgent and sends
// every request over it, whatever the Request-URI, so the transport here holds two SIP.js
// WebTransports: a request goes to the target's socket when its Request-URI names the target's
// port, else to the transferor's; a response goes back on the socket its request came in on
// (matched by the top Via branch). Everything above the transport is SIP.js's own code.
//
// Prints "LOCAL_PORT <port>" once connected: its local port on the transferor's connection, where
// the transferor sends its INVITE (sip:sipjs@127.0.0.1:<port>;transport=ws reuses the connection).
// Then: answers the transferor's INVITE; on its REFER does what SIP.js does by default
// (Session.onReferRequest): referral.accept() (202), then referral.makeInviter().invite() to the
// Refer-To target; SIP.js itself NOTIFYs the transferor with each response of the target
// (Inviter.notifyReferer). When the transferor has hung up and the call with the target is
// established, it hangs up the target's call and exits 0; exit 1 on a failure or after 30 s.
// No media: a session description handler that only exchanges a fixed PCMU SDP.
import WebSocket from "ws";
import { Inviter, SessionState, UserAgent, Web } from "sip.js";

// Node 20 has no WebSocket global; this one also reports the local port of each connection.
class ReportingWebSocket extends WebSocket {
  constructor(url, protocols) {
    super(url, protocols);
    this.on("upgrade", (response) => console.log(`LOCAL_PORT ${url} ${response.socket.localPort}`));
  }
}
globalThis.WebSocket = ReportingWebSocket;

const [transferorServer, targetServer, callUri] = process.argv.slice(2);
if (!transferorServer || !targetServer) {
  console.error("usage: node transferee.mjs ws://host:port ws://host:port [sip:transferor-uri]");
  process.exit(2);
}

const fail = (why) => {
  console.error(`FAIL: ${why}`);
  process.exit(1);
};
const state = { transferorHungUp: false, targetEstablished: false, referTo: null, notified: false };
const timer = setTimeout(() => fail(`timed out: ${JSON.stringify(state)}`), 30000);

// The top Via's branch (compact form "v" too), or null.
const topBranch = (message) => {
  const m = /^(?:Via|v)[ \t]*:[^\r\n]*?;[ \t]*branch=([^;, \t\r\n]+)/im.exec(message);
  return m ? m[1] : null;
};
const isRequest = (message) => !message.startsWith("SIP/2.0 ");

class RoutingTransport extends Web.Transport {
  constructor(logger, options) {
    super(logger, { server: options.server, traceSip: options.traceSip });
    this.targetPort = new URL(options.targetServer).port;
    this.target = new Web.Transport(logger, { server: options.targetServer, traceSip: options.traceSip });
    this.fromTarget = new Set(); // branches of requests that came from the target
    this.target.onMessage = (message) => {
      const branch = topBranch(message);
      if (isRequest(message) && branch) this.fromTarget.add(branch);
      if (this.onMessage) this.onMessage(message);
    };
  }
  async connect() {
    await super.connect();
    await this.target.connect();
  }
  async disconnect() {
    await this.target.disconnect().catch(() => {});
    return super.disconnect();
  }
  toTarget(message) {
    if (!isRequest(message)) return this.fromTarget.has(topBranch(message));
    const ruri = /^[A-Z]+ (\S+) SIP\/2\.0/.exec(message);
    const hostport = ruri ? ruri[1].replace(/^sips?:/, "").split(";")[0].split("@").pop() : "";
    const port = /:(\d+)$/.exec(hostport);
    return !!port && port[1] === this.targetPort;
  }
  send(message) {
    if (this.toTarget(message)) return this.target.send(message);
    return super.send(message);
  }
}

const sdp = [
  "v=0",
  "o=sipjs 1 1 IN IP4 127.0.0.1",
  "s=-",
  "c=IN IP4 127.0.0.1",
  "t=0 0",
  "m=audio 40000 RTP/AVP 0",
  "a=rtpmap:0 PCMU/8000",
  "a=sendrecv",
  "",
].join("\r\n");
class NullSessionDescriptionHandler {
  close() {}
  getDescription() {
    return Promise.resolve({ body: sdp, contentType: "application/sdp" });
  }
  hasDescription(contentType) {
    return contentType === "application/sdp";
  }
  rollbackDescription() {
    return Promise.resolve();
  }
  setDescription() {
    return Promise.resolve();
  }
  sendDtmf() {
    return false;
  }
}

let targetCall = null;
const finishIfDone = () => {
  if (!state.transferorHungUp || !state.targetEstablished || !targetCall) return;
  console.log("transferor hung up and target call established: hanging up the target call");
  targetCall.bye().catch((e) => fail(`bye to target failed: ${e}`));
};

const ua = new UserAgent({
  uri: UserAgent.makeURI("sip:sipjs@example.com"),
  transportConstructor: RoutingTransport,
  transportOptions: { server: transferorServer, targetServer },
  sessionDescriptionHandlerFactory: () => new NullSessionDescriptionHandler(),
  logLevel: "warn",
  delegate: {
    onInvite(invitation) {
      console.log(`INVITE from ${invitation.remoteIdentity.uri}`);
      transferee(invitation, "transferor call");
      invitation.accept().catch((e) => fail(`accept failed: ${e}`));
    },
  },
});

// The call with the transferor (either direction): watches its end and takes its REFER.
function transferee(session, label) {
  session.stateChange.addListener((s) => {
    console.log(`${label}: ${s}`);
    if (s === SessionState.Terminated) {
      state.transferorHungUp = true;
      finishIfDone();
    }
  });
  session.delegate = {
    // SIP.js's default transferee behaviour, spelled out (Session.onReferRequest).
    onRefer(referral) {
      state.referTo = referral.referTo.uri.toString();
      console.log(`REFER to ${state.referTo}`);
      referral
        .accept()
        .then(() => {
          targetCall = referral.makeInviter();
          targetCall.stateChange.addListener((s) => {
            console.log(`target call: ${s}`);
            if (s === SessionState.Established) {
              state.targetEstablished = true;
              finishIfDone();
            }
            if (s === SessionState.Terminated) {
              if (!state.targetEstablished) fail("target call ended before it was established");
              clearTimeout(timer);
              console.log("OK: transferred; target call ended");
              ua.stop().finally(() => process.exit(0));
            }
          });
          return targetCall.invite();
        })
        .catch((e) => fail(`referral failed: ${e}`));
    },
  };
}

try {
  await ua.start();
  console.log(`connected to ${transferorServer} and ${targetServer}`);
  if (callUri) {
    // SIP.js calls the transferor (its in-dialog requests then reuse this connection).
    const call = new Inviter(ua, UserAgent.makeURI(callUri));
    transferee(call, "transferor call");
    await call.invite();
  }
} catch (e) {
  fail(`${e}`);
}
