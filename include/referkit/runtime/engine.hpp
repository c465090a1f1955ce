// The Asio runtime: drives one sans-I/O core (referkit::Driven) over real sockets — UDP, TCP, TLS,
// WebSocket and secure WebSocket, IPv4 and IPv6 — with one timer armed at the core's next deadline.
//
// One Engine per core, single-threaded on one io_context (docs/ARCHITECTURE.md). Every input (a
// datagram, a framed stream message, a WebSocket message, the timer, a posted command) is one step
// in the order driven.hpp defines: input; flush poll_transmit(); after_step(); flush again; re-arm
// the timer. This header pulls no Boost or OpenSSL header (pimpl); io_context is only declared.
#pragma once
#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "referkit/core/driven.hpp"
#include "referkit/core/limits.hpp"
#include "referkit/core/time.hpp"
#include "referkit/core/transport.hpp"

namespace boost::asio {
class io_context;
}

namespace referkit::runtime {

// One listening socket. Port 0 = an ephemeral port (read it back with Engine::local_endpoints()).
// The host must be an IP literal (IPv6 without brackets), e.g. "127.0.0.1", "::1", "0.0.0.0".
struct ListenSpec {
    Transport transport = Transport::udp;
    Endpoint local{};
    std::string ws_path = "/";  // WS/WSS: the only HTTP target the upgrade is accepted on
};

struct TlsOptions {
    // PEM file of the CAs a client trusts; "" = the system store (SSL_CTX_set_default_verify_paths).
    std::string ca_file{};
    // Server side (TLS and WSS listeners): PEM certificate chain and private key. Required when a
    // TLS or WSS listener is configured (start() fails otherwise).
    std::string cert_file{};
    std::string key_file{};
    // Client side: verify the server's chain against ca_file AND its name (RFC 5922 §7.2 via
    // SSL_set1_host, or the IP address for IP literals). false = accept any certificate (tests only).
    bool verify_peer = true;
    // Client side: the name to verify and send as SNI; "" = the destination's host.
    std::string server_name{};
};

// What the engine handled without passing it to the core, and connection life.
struct EngineCounters {
    std::uint64_t datagrams_received = 0;
    std::uint64_t oversized_datagrams = 0;      // > Limits::max_message_size: dropped unread
    std::uint64_t stream_messages_received = 0; // framed TCP/TLS messages and WS messages
    std::uint64_t connections_accepted = 0;
    std::uint64_t connections_over_cap = 0;     // accepted then closed at once: max_connections or
                                                // max_connections_per_source reached
    std::uint64_t accept_pauses = 0;            // accepting paused: out of descriptors (EMFILE/ENFILE)
                                                // or repeated accept errors
    std::uint64_t connections_opened = 0;       // outgoing, counted when the connection is usable
    std::uint64_t connect_failures = 0;         // TCP connect, TLS or WS handshake failed
    std::uint64_t tls_verify_failures = 0;      // of those, the server's certificate was refused
    std::uint64_t framing_errors = 0;           // StreamFramer errors (answered via the core, then closed)
    std::uint64_t incomplete_timeouts = 0;      // closed: a message stayed incomplete too long
    std::uint64_t idle_timeouts = 0;            // closed: no traffic for tcp_idle_timeout
    std::uint64_t pings_answered = 0;           // RFC 5626 §3.5.1 double-CRLF pings answered
    std::uint64_t pings_sent = 0;
    std::uint64_t pongs_received = 0;
    std::uint64_t keepalive_failures = 0;       // closed: a ping got no pong in keepalive_pong_timeout
    std::uint64_t ws_rejected_handshakes = 0;   // no "sip" subprotocol, wrong path, not an upgrade,
                                                // headers over max_ws_upgrade_size, a body
    std::uint64_t ws_oversized_messages = 0;    // WS message over max_message_size: connection closed
    std::uint64_t send_failures = 0;            // transmits reported back as transport_error
};

// Which way a traced message went.
enum class TraceDirection : std::uint8_t { sent, received };

struct EngineOptions {
    std::vector<ListenSpec> listen{};
    TlsOptions tls{};
    // max_message_size bounds datagrams and WS messages; the stream framer uses all of it. Give
    // the core the same Limits: after a framing error the engine hands the bytes it holds (the
    // headers, without their closing blank line) to core.receive(), and the core's parse decides
    // the answer (513 for oversized headers with equal limits; 400 for a missing or bad
    // Content-Length and, for now, for an announced body that is too large).
    Limits limits{};
    // Connection caps (docs/ARCHITECTURE.md, runtime). An accepted TCP, TLS, WS or WSS connection
    // that would make more than max_connections open stream connections (every transport, both
    // directions, TLS handshakes and WS upgrades in progress included), or more than
    // max_connections_per_source accepted ones from its IP address (any port), is closed at once;
    // the refusals are logged once per burst and counted (connections_over_cap). Outgoing
    // connections count towards the total but are never refused. 0 = no cap.
    // Defaults: 4096 stream connections fit a default descriptor limit raised for a server
    // (ulimit -n 8192 leaves room for UDP, files and the process) and, at the few KB an idle
    // connection costs, bound their memory to tens of MB; 256 per address leaves room for a
    // proxy or a NAT with many clients behind one address while one stranger fills at most a
    // sixteenth of the total.
    std::size_t max_connections = 4096;
    std::size_t max_connections_per_source = 256;
    // A connection on which no SIP message was sent or received this long is closed (0 = never).
    // RFC 5626 §4.4.1 keep-alives (double-CRLF pings, CRLF pongs, WebSocket pings) do not count:
    // they cannot hold a connection open forever. Exceptions: an outgoing connection on which we
    // send keep-alives ourselves (keepalive_interval > 0: the application keeps its flow), and a
    // connection that flow_in_use reports in use (a dialog or a registration that uses the flow).
    std::chrono::milliseconds tcp_idle_timeout = std::chrono::seconds(300);
    // Asked when a connection reaches tcp_idle_timeout: true keeps it for another period. Called on
    // the engine's thread; may be empty (then only the rule above applies).
    std::function<bool(ConnectionId)> flow_in_use{};
    // Bound on the HTTP upgrade request of an accepted WS/WSS connection (request line and headers,
    // RFC 6455 §4.2.1). Larger: answered 431 and closed. An upgrade with a body (Content-Length
    // above 0, or chunked) is answered 413 and closed: a GET upgrade has none.
    std::size_t max_ws_upgrade_size = 8192;
    // Outgoing stream connections (TCP, TLS) send a double-CRLF ping this often (RFC 5626 §3.5.1;
    // §4.4.1 suggests 95-120 s). 0 = no pings. Pings received are always answered.
    std::chrono::milliseconds keepalive_interval = std::chrono::milliseconds(0);
    // A ping not answered by a pong this long fails the connection (RFC 5626 §4.4.1: 10 s);
    // its transactions get transport_error. 0 = never.
    std::chrono::milliseconds keepalive_pong_timeout = std::chrono::seconds(10);
    // A stream connection holding an incomplete message this long is closed (a slow sender).
    std::chrono::milliseconds incomplete_message_timeout = std::chrono::seconds(32);
    // The HTTP target of outgoing WS/WSS upgrades (a Destination carries no path).
    std::string ws_client_path = "/";
    // Bound on TCP connect plus TLS/WS handshake of an outgoing connection, and on the TLS/WS
    // handshake of an accepted one.
    std::chrono::milliseconds connect_timeout = std::chrono::seconds(10);
    // Receives one line per notable event (listener bound, connection refused, TLS verification
    // failure, framing error, timeout). Called on the engine's thread; may be empty.
    std::function<void(std::string_view)> log{};
    // Sees every SIP message the engine hands to a transport (`sent`) or takes from one (received),
    // as raw bytes: a received message before it is parsed, so malformed input shows too;
    // keep-alives are not messages and do not show. Called on the engine's thread; may be empty.
    // The bytes may carry credentials (Authorization, Proxy-Authorization): mask them before
    // printing (mask_credentials in referkit/core/digest.hpp masks one such header value).
    std::function<void(TraceDirection, Transport, const Endpoint& remote, std::string_view bytes)> trace{};
};

class Engine {
public:
    // Ownership: `io` and `core` are borrowed and must outlive the engine. Nothing happens until
    // start(). Not thread-safe except post(); every other member is called on io's thread.
    Engine(boost::asio::io_context& io, Driven& core, EngineOptions options);
    ~Engine();  // stop()s
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Binds every listener and starts reading; calls core.on_local_address() for each (sent-by
    // "host:port", IPv6 in brackets; "<random>.invalid" for WS/WSS when there is no such listener,
    // RFC 7118 §5). Errors (nothing stays bound): a message naming the listener and the reason
    // ("tcp 127.0.0.1:5060: Address already in use"), a missing TLS certificate, start() twice.
    [[nodiscard]] std::expected<void, std::string> start();
    // After start(): each listener's transport and real address (ephemeral ports resolved), in the
    // order of EngineOptions::listen.
    [[nodiscard]] std::vector<std::pair<Transport, Endpoint>> local_endpoints() const;
    // Runs `command(now)` on io's thread as one step (then flushes and re-arms). Thread-safe.
    // Commands posted after stop() are dropped.
    void post(std::function<void(Time)> command);
    // Closes listeners and connections and cancels the timer; pending work ends without calling
    // the core again. Idempotent.
    void stop();
    // The engine's clock: steady time since construction (the `now` every step passes the core).
    [[nodiscard]] Time now() const;
    [[nodiscard]] const EngineCounters& counters() const noexcept;
    // Open stream connections (all transports).
    [[nodiscard]] std::size_t connection_count() const noexcept;

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

// "host:port" with an IP literal, "[v6]:port", or a name; port required. Errors say what is wrong.
[[nodiscard]] std::expected<Endpoint, std::string> parse_hostport(std::string_view text);
// "udp:127.0.0.1:5060", "tcp:[::1]:0", "tls:0.0.0.0:5061", "ws:127.0.0.1:8080/sip",
// "wss:[::1]:8443" (WS path defaults to "/"). The host must be an IP literal.
[[nodiscard]] std::expected<ListenSpec, std::string> parse_listen(std::string_view text);
// "host:port", IPv6 hosts in brackets: the Via sent-by form of an endpoint.
[[nodiscard]] std::string format_hostport(const Endpoint& endpoint);

}  // namespace referkit::runtime
