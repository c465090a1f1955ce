// The referkit command.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "demo.hpp"
#include "json_dump.hpp"
#include "referkit/core/message.hpp"
#include "referkit/core/sipfrag.hpp"
#include "referkit/core/validate.hpp"
#include "referkit/version.hpp"

namespace {

constexpr int exit_ok = 0;
constexpr int exit_invalid = 1;
constexpr int exit_usage = 2;

// Edit distance (insertions, deletions, substitutions; a swap of neighbours counts one), for
// suggesting the subcommand a user meant.
std::size_t distance(const std::string& a, const std::string& b) {
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i)
        for (std::size_t j = 1; j <= b.size(); ++j) {
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    return d[a.size()][b.size()];
}

int run_parse(const std::string& path, bool sipfrag, bool compact) {
    std::string bytes;
    if (path == "-") {
        bytes.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
        std::ifstream in(path, std::ios::binary);
        if (!in) {
            std::cerr << "referkit parse: cannot open " << path << "\n";
            return exit_usage;
        }
        bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    const int indent = compact ? -1 : 2;
    nlohmann::ordered_json out;
    int rc = exit_ok;
    if (sipfrag) {
        auto f = referkit::parse_sipfrag(bytes);
        if (f) out = referkit::cli::to_json(*f);
        else { out["error"] = referkit::cli::to_json(f.error()); rc = exit_invalid; }
    } else {
        auto m = referkit::Message::parse(bytes);
        if (!m) {
            out["error"] = referkit::cli::to_json(m.error());
            rc = exit_invalid;
        } else {
            out = referkit::cli::to_json(*m);
            // Lazily parsed headers are checked too: a message is valid only if all are.
            if (auto e = referkit::validate_headers(*m)) {
                out["error"] = referkit::cli::to_json(*e);
                rc = exit_invalid;
            }
            if (m->size() < bytes.size()) out["trailing_bytes"] = bytes.size() - m->size();
        }
    }
    std::cout << out.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return rc;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"referkit — SIP call transfer (REFER) from the command line"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("referkit ") + REFERKIT_VERSION_STRING);
    app.footer(
        "Exit codes (transfer, refer):\n"
        "  0  transfer succeeded (final 2xx sipfrag, or 2xx to the REFER with agreed Refer-Sub: false)\n"
        "  1  transfer failed (REFER rejected, or final sipfrag >= 300); parse: invalid input\n"
        "  2  usage error (unknown option, malformed URI, --user without password): nothing was sent\n"
        "  3  outcome unknown (subscription ended without a final status, NOTIFY wait expired,\n"
        "     interrupted by SIGINT/SIGTERM)\n"
        "  4  timeout or transport error (including: the call to transfer could not be placed)\n"
        "demo: 0 both transfers succeeded, 1 otherwise. target: 0 when stopped by SIGINT/SIGTERM.\n"
        "Examples:\n"
        "  referkit demo --json\n"
        "  referkit target --listen udp:127.0.0.1:5062 --policy accept\n"
        "  referkit transfer sip:bob@127.0.0.1:5062 --to sip:carol@127.0.0.1:5064\n"
        "  referkit transfer sip:bob@127.0.0.1:5062 --attended sip:carol@127.0.0.1:5064 --json\n"
        "  referkit refer sip:bob@127.0.0.1:5062 --refer-to sip:carol@127.0.0.1:5064 --no-refer-sub\n"
        "  referkit parse message.sip\n"
        "  printf 'SIP/2.0 486 Busy Here\\r\\n' | referkit parse --sipfrag -");

    std::string path = "-";
    bool sipfrag = false, compact = false;
    auto* parse = app.add_subcommand("parse", "Parse a SIP message (or a message/sipfrag body) and print it as JSON");
    parse->add_option("FILE", path, "File to read, or - for standard input")->capture_default_str();
    parse->add_flag("--sipfrag", sipfrag, "Parse a message/sipfrag body (RFC 3420) instead of a whole message");
    parse->add_flag("--compact", compact, "One-line JSON");
    parse->footer(
        "Prints the start line, every header in order (typed fields where known) and the body length,\n"
        "or {\"error\":{offset, code, reason, status}} with the SIP status a UA would answer.\n"
        "Exit: 0 valid, 1 invalid, 2 usage.");

    bool json_lines = false, demo_trace = false;
    auto* demo = app.add_subcommand("demo", "A real blind and attended transfer between three user agents on loopback");
    demo->add_flag("--json", json_lines, "One JSON object per line; the last line states the outcome");
    demo->add_flag("--trace", demo_trace, "Every SIP message sent and received, to stderr (credentials masked)");

    referkit::cli::CommonOptions common;
    const auto add_common = [&common](CLI::App* sub, bool target) {
        sub->add_option("--transport", common.transport,
                        target ? "udp|tcp|tls|ws|wss: of the calls it places (default: udp if a --listen is udp, else the first --listen's)"
                               : "udp|tcp|tls|ws|wss")
            ->capture_default_str();
        sub->add_option("--tls-ca", common.tls_ca, "PEM file of the CAs to trust for tls/wss (default: the system store)");
        sub->add_option("--tls-cert", common.tls_cert, "PEM certificate chain of our tls/wss listener (required for tls/wss)");
        sub->add_option("--tls-key", common.tls_key, "PEM private key of --tls-cert");
        sub->add_option("--bind", common.bind,
                        target ? "ADDR:PORT to listen on when no --listen is given (default 127.0.0.1:5060)"
                               : "ADDR:PORT to listen on and send from (default 127.0.0.1:0; use a routable address off loopback)");
        sub->add_option("--from", common.from, "Our AOR (default sip:referkit@<bind host>)");
        sub->add_option("--user", common.user, "Digest user name (or env REFERKIT_USER)");
        sub->add_option("--password", common.password, "Digest password (or env REFERKIT_PASSWORD)");
        sub->add_flag("--json", common.json, "One JSON object per line; the last line states the outcome");
        sub->add_flag("--trace", common.trace, "Every SIP message sent and received, to stderr (credentials masked)");
        sub->add_flag("--quiet", common.quiet, "Only the outcome line");
        sub->add_option("--max-transactions-per-source", common.max_transactions_per_source,
                        "Open server transactions from one IP address; beyond, 503 to it (0 = no bound: behind one proxy)")
            ->capture_default_str();
        if (target) return;
        sub->add_option("--header", common.headers, "\"Name: value\" added to the REFER (repeatable)")->allow_extra_args(false);
        sub->add_option("--referred-by", common.referred_by, "Referred-By URI (default: our AOR)");
        sub->add_flag("--no-refer-sub", common.no_refer_sub, "Ask for no NOTIFYs (Refer-Sub: false, RFC 4488)");
        sub->add_option("--timeout", common.timeout, "Seconds before giving up (exit 4)")->capture_default_str();
    };

    referkit::cli::TransferCommand transfer_cmd;
    auto* transfer = app.add_subcommand("transfer", "Call CALLEE_URI, then transfer that call (blind or attended)");
    transfer->add_option("CALLEE_URI", transfer_cmd.callee, "The party to call and transfer (the transferee)")->required();
    transfer->add_option("--to", transfer_cmd.to, "Blind transfer: Refer-To this URI");
    transfer->add_option("--attended", transfer_cmd.attended,
                         "Attended transfer: call URI2, then REFER the callee with Replaces naming that call");
    add_common(transfer, false);
    transfer->footer(
        "Places the call, waits until it is confirmed, REFERs, follows the NOTIFYs and always ends the calls\n"
        "it placed before exiting (after answering every NOTIFY received). Exit codes: see referkit --help.\n"
        "  referkit transfer sip:bob@127.0.0.1:5062 --to sip:carol@127.0.0.1:5064");

    std::string refer_target, refer_to;
    auto* refer = app.add_subcommand("refer", "Send an out-of-dialog REFER");
    refer->add_option("TARGET_URI", refer_target, "The recipient of the REFER (the transferee)")->required();
    refer->add_option("--refer-to", refer_to, "The URI the recipient is asked to call")->required();
    add_common(refer, false);
    refer->footer("  referkit refer sip:bob@127.0.0.1:5062 --refer-to sip:carol@127.0.0.1:5064");

    referkit::cli::TargetCommand target_cmd;
    auto* target = app.add_subcommand("target", "Run a transferee / transfer target until SIGINT or SIGTERM");
    target->add_option("--listen", target_cmd.listen,
                       "udp:HOST:PORT, tcp:..., ws:HOST:PORT/path, tls:/wss: (repeatable; port 0 = ephemeral)")
        ->allow_extra_args(false);
    target->add_option("--policy", target_cmd.policy, "accept or reject (603) incoming REFERs")->capture_default_str();
    target->add_option("--allow-refer-from", target_cmd.allow_refer_from,
                       "Allow out-of-dialog REFERs (else 403) from: any, USER@HOST (From URI), or HOST (From host or "
                       "source IP); '*' matches any run of characters (repeatable)")
        ->allow_extra_args(false);
    target->add_option("--max-connections", target_cmd.max_connections,
                       "Cap on open TCP/TLS/WS/WSS connections; one over it is closed at once (0 = no cap)")
        ->capture_default_str();
    target->add_option("--max-connections-per-source", target_cmd.max_connections_per_source,
                       "Cap on connections accepted from one IP address (0 = no cap)")
        ->capture_default_str();
    target->add_option("--idle-timeout", target_cmd.idle_timeout,
                       "Seconds a connection may carry no SIP message before it is closed (keep-alives do not count)")
        ->capture_default_str();
    target->add_option("--max-calls-per-source", target_cmd.max_calls_per_source,
                       "Incoming calls (ringing, waiting for their ACK, or up) from one IP address; beyond, 503 to it "
                       "(0 = no bound: behind one proxy)")
        ->capture_default_str();
    target->add_option("--require-auth", target_cmd.require_auth,
                       "REFERs outside a call must authenticate with digest as an account of FILE "
                       "(USER:PASSWORD lines); then they need no --allow-refer-from")
        ->type_name("FILE");
    target->add_option("--realm", target_cmd.realm, "Digest realm of --require-auth (default: the host of --from)");
    add_common(target, true);
    target->footer(
        "Answers every call, accepts (or declines 603) REFERs and calls the target, acts on INVITEs with\n"
        "Replaces from the replaced call's party or one it referred (else 403). REFERs outside a call are\n"
        "refused 403 unless --allow-refer-from matches the sender or it authenticates (--require-auth).\n"
        "The first line names the bound address(es): 'listening udp 127.0.0.1:40123 sip:referkit@...'.\n"
        "  referkit target --listen udp:127.0.0.1:0 --listen tcp:127.0.0.1:0 --json");

    // A first word that is no subcommand: say which one was probably meant (CLI11 would only
    // say that a subcommand is required).
    if (argc > 1 && argv[1][0] != '-') {
        const std::string word = argv[1];
        std::string best;
        std::size_t best_distance = 3;  // suggest only close words
        bool known = false;
        for (const CLI::App* sub : app.get_subcommands({})) {
            if (sub->get_name() == word) known = true;
            if (const std::size_t d = distance(word, sub->get_name()); d < best_distance) {
                best_distance = d;
                best = sub->get_name();
            }
        }
        if (!known) {
            std::cerr << "referkit: unknown command '" << word << "'";
            if (!best.empty()) std::cerr << "; did you mean '" << best << "'?";
            std::cerr << " (commands: demo, transfer, refer, target, parse; see referkit --help)\n";
            return exit_usage;
        }
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::cerr << "referkit: " << e.what() << " (see referkit --help)\n";
        return exit_usage;
    }
    for (const CLI::App* sub : {transfer, refer, target})
        if (sub->parsed()) common.transport_given = sub->count("--transport") > 0;
    if (parse->parsed()) return run_parse(path, sipfrag, compact);
    if (demo->parsed()) return referkit::cli::run_demo(std::cout, std::cerr, json_lines, demo_trace);
    if (transfer->parsed()) return referkit::cli::run_transfer(common, transfer_cmd, std::cout, std::cerr);
    if (refer->parsed()) return referkit::cli::run_refer(common, refer_target, refer_to, std::cout, std::cerr);
    if (target->parsed()) return referkit::cli::run_target(common, target_cmd, std::cout, std::cerr);
    return exit_usage;
}
