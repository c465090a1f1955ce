// `referkit transfer`, `referkit refer`, `referkit target`: user agents on real sockets.
#pragma once
#include <ostream>
#include <string>
#include <vector>

namespace referkit::cli {

// Exit codes of transfer/refer (documented in --help and the README).
inline constexpr int exit_success = 0;   // final 2xx sipfrag, or 2xx with agreed Refer-Sub: false
inline constexpr int exit_failed = 1;    // REFER rejected or final sipfrag >= 300
inline constexpr int exit_usage = 2;     // bad option, malformed URI, missing password: nothing sent
inline constexpr int exit_unknown = 3;   // subscription ended without final status, NOTIFY wait expired, interrupted
inline constexpr int exit_timeout = 4;   // --timeout passed, transport error, the call could not be placed

// The options transfer, refer and target share. Defaults are the documented ones.
struct CommonOptions {
    std::string transport = "udp";          // udp|tcp|tls|ws|wss
    bool transport_given = false;           // --transport was on the command line
    std::string bind{};                     // ADDR:PORT; "" = 127.0.0.1:0 (target: 127.0.0.1:5060)
    std::string from{};                     // our AOR; "" = sip:referkit@<bound host>
    std::string user{};                     // digest user (env REFERKIT_USER)
    std::string password{};                 // digest password (env REFERKIT_PASSWORD)
    std::vector<std::string> headers{};     // "Name: value", added to the REFER
    std::string referred_by{};              // Referred-By URI ("" = our AOR)
    bool no_refer_sub = false;              // Refer-Sub: false (RFC 4488)
    double timeout = 30;                    // seconds, whole command
    bool json = false;
    bool trace = false;
    bool quiet = false;
    std::string tls_ca{};                   // PEM CAs to trust ("" = the system store)
    std::string tls_cert{};                 // PEM certificate chain of our TLS/WSS listener
    std::string tls_key{};                  // its private key
    std::size_t max_transactions_per_source = 4096;  // Limits::max_transactions_per_source (0 = no bound)
};

struct TransferCommand {
    std::string callee{};    // CALLEE_URI
    std::string to{};        // blind target
    std::string attended{};  // attended: the URI to call and replace
};

struct TargetCommand {
    std::vector<std::string> listen{};  // parse_listen forms; empty = transport+bind
    std::string policy = "accept";      // accept|reject (603)
    // --allow-refer-from: out-of-dialog REFERs from matching senders are allowed (else 403):
    // "any", "USER@HOST" (the From URI) or "HOST" (the From URI's host or the source IP); '*' globs.
    std::vector<std::string> allow_refer_from{};
    std::size_t max_connections = 4096;            // runtime::EngineOptions::max_connections (0 = no cap)
    std::size_t max_connections_per_source = 256;  // per peer IP address (0 = no cap)
    // runtime::EngineOptions::tcp_idle_timeout: a connection without a SIP message this long is closed.
    double idle_timeout = 300;
    std::size_t max_calls_per_source = 256;  // UserAgentConfig::max_sessions_per_source (0 = no bound)
    // --require-auth FILE: REFERs outside a dialog must authenticate with digest as one of the
    // accounts of FILE ("user:password" lines; '#' comments) in --realm (default: our AOR's host).
    std::string require_auth{};
    std::string realm{};
};

// Each validates its options first (usage errors: one line on `err`, exit 2, nothing sent),
// then runs until done, --timeout, or SIGINT/SIGTERM. Return the exit code.
int run_transfer(const CommonOptions& common, const TransferCommand& command, std::ostream& out, std::ostream& err);
int run_refer(const CommonOptions& common, const std::string& target, const std::string& refer_to, std::ostream& out,
              std::ostream& err);
// Runs until SIGINT/SIGTERM (exit 0), or a listener cannot be bound (exit 4). The first line
// printed names each bound address ("listening udp 127.0.0.1:40123 sip:referkit@127.0.0.1:40123").
int run_target(const CommonOptions& common, const TargetCommand& command, std::ostream& out, std::ostream& err);

}  // namespace referkit::cli
