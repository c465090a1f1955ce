// `referkit transfer`, `referkit refer`, `referkit target`: one UserAgent on one io_context run by
// this thread, every wait bounded by --timeout, SIGINT/SIGTERM through an asio signal_set.
#include "commands.hpp"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdlib>
#include <expected>
#include <fstream>
#include <memory>
#include <optional>

#include "referkit/core/uri.hpp"
#include "referkit/runtime/engine.hpp"
#include "timeline.hpp"

namespace referkit::cli {
namespace {

using Clock = std::chrono::steady_clock;

std::optional<Transport> parse_transport(std::string_view s) {
    if (s == "udp") return Transport::udp;
    if (s == "tcp") return Transport::tcp;
    if (s == "ws") return Transport::ws;
    if (s == "tls") return Transport::tls;
    if (s == "wss") return Transport::wss;
    return std::nullopt;
}

// A URI given on the command line: it must parse (RFC 3261 §19.1) and, where a request is sent to
// it, be sip or sips. Returns the error text, or nullopt when fine.
std::optional<std::string> check_uri(std::string_view what, const std::string& text, bool need_sip) {
    auto uri = parse_uri(text, UriContext::name_addr);
    if (!uri) return std::string(what) + " is not a valid URI: '" + text + "' (" + uri.error().describe() + ")";
    if (need_sip && uri->scheme != Scheme::sip && uri->scheme != Scheme::sips)
        return std::string(what) + " must be a sip: or sips: URI: '" + text + "'";
    return std::nullopt;
}

// '*' matches any run of characters; other characters match themselves (ASCII case-insensitive
// when `fold`).
bool glob_match(std::string_view pattern, std::string_view text, bool fold) {
    const auto eq = [fold](char a, char b) {
        if (!fold) return a == b;
        const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
        return lower(a) == lower(b);
    };
    std::size_t p = 0, t = 0, star = std::string_view::npos, from = 0;
    while (t < text.size()) {
        if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            from = t;
        } else if (p < pattern.size() && eq(pattern[p], text[t])) {
            ++p;
            ++t;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            t = ++from;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

// --allow-refer-from (docs/transfer-rules.md R38): "any" allows every out-of-dialog REFER; "USER@HOST"
// matches the From URI's user (case-sensitive) and host; "HOST" matches the From URI's host or the
// source IP address (hosts case-insensitive, IPv6 without brackets). Returns the usage error.
std::optional<std::string> allow_refer_from(const std::vector<std::string>& patterns, ReferConfig& refer) {
    for (const auto& p : patterns) {
        if (p.empty() || p.find_first_of(" \t\r\n<>;") != std::string::npos || p.find('@') != p.rfind('@') ||
            p.front() == '@' || p.back() == '@')
            return "--allow-refer-from must be any, USER@HOST or HOST ('*' globs), not '" + p + "'";
        if (p == "any") refer.out_of_dialog_refer = OutOfDialogRefer::allow;
    }
    if (patterns.empty() || refer.out_of_dialog_refer == OutOfDialogRefer::allow) return std::nullopt;
    refer.allow_refer_from = [patterns](const Message& m, const Source& source) {
        const Uri& from = m.from().uri;
        for (const auto& p : patterns) {
            const auto at = p.find('@');
            if (at != std::string::npos) {
                if (glob_match(std::string_view(p).substr(0, at), from.user, false) &&
                    glob_match(std::string_view(p).substr(at + 1), from.host_address(), true))
                    return true;
            } else if (glob_match(p, from.host_address(), true) || glob_match(p, source.remote.host, true)) {
                return true;
            }
        }
        return false;
    };
    return std::nullopt;
}

// What every command builds from the common options.
struct Setup {
    UserAgentOptions options{};
    Transport transport = Transport::udp;
    std::string label = "local";
    std::ostream* trace_to = nullptr;  // --trace: where every SIP message goes
};

// Validates the common options (usage errors are returned as one line) and builds the user agent
// options. `listen`: explicit --listen values (target only).
std::expected<Setup, std::string> prepare(const CommonOptions& c, const std::vector<std::string>& listen,
                                          std::string_view default_bind, std::ostream& err) {
    Setup s;
    auto transport = parse_transport(c.transport);
    if (!transport) return std::unexpected("--transport must be udp, tcp, ws, tls or wss, not '" + c.transport + "'");
    s.transport = *transport;
    if (!(c.timeout > 0 && c.timeout <= 86400)) return std::unexpected(std::string("--timeout must be in (0, 86400] seconds"));
    std::string user = c.user, password = c.password;
    if (user.empty())
        if (const char* v = std::getenv("REFERKIT_USER")) user = v;
    if (password.empty())
        if (const char* v = std::getenv("REFERKIT_PASSWORD")) password = v;
    if (!user.empty() && password.empty())
        return std::unexpected(std::string("--user needs --password (or REFERKIT_PASSWORD)"));
    if (!user.empty()) s.options.core.credentials.push_back(Credentials{.username = user, .password = password, .realm = ""});
    s.options.core.transaction.limits.max_transactions_per_source = c.max_transactions_per_source;
    for (const auto& h : c.headers) {
        const auto colon = h.find(':');
        if (colon == std::string::npos || colon == 0 || h.find_first_of("\r\n") != std::string::npos)
            return std::unexpected("--header must be 'Name: value', not '" + h + "'");
    }
    if (!c.referred_by.empty())
        if (auto e = check_uri("--referred-by", c.referred_by, false)) return std::unexpected(*e);
    if (listen.empty()) {
        const std::string bind = c.bind.empty() ? std::string(default_bind) : c.bind;
        auto ep = runtime::parse_hostport(bind);
        if (!ep) return std::unexpected("--bind '" + bind + "': " + ep.error());
        s.options.engine.listen = {runtime::ListenSpec{.transport = s.transport, .local = *ep, .ws_path = "/"}};
    } else {
        for (const auto& l : listen) {
            auto spec = runtime::parse_listen(l);
            if (!spec) return std::unexpected("--listen '" + l + "': " + spec.error());
            s.options.engine.listen.push_back(*spec);
        }
        // The requests we originate (a transferee's call to the Refer-To target among them) go over
        // --transport whatever the order of the listeners; without it, over UDP when we listen on
        // UDP, else over the first listener's transport.
        const auto listens_on = [&](Transport t) {
            return std::any_of(s.options.engine.listen.begin(), s.options.engine.listen.end(),
                               [t](const runtime::ListenSpec& l) { return l.transport == t; });
        };
        if (!c.transport_given)
            s.transport = listens_on(Transport::udp) ? Transport::udp : s.options.engine.listen.front().transport;
        else if (!listens_on(s.transport))
            return std::unexpected("--transport " + c.transport + " needs a --listen of that transport (our Contact must be reachable over it)");
    }
    // TLS and WSS: we listen too (NOTIFYs and BYEs come to our Contact), so a certificate is needed.
    const bool secure = std::any_of(s.options.engine.listen.begin(), s.options.engine.listen.end(), [](const auto& l) {
        return l.transport == Transport::tls || l.transport == Transport::wss;
    });
    if (secure && (c.tls_cert.empty() || c.tls_key.empty()))
        return std::unexpected(std::string("tls/wss needs --tls-cert and --tls-key (the certificate of our listener)"));
    for (const auto& [flag, file] : {std::pair{"--tls-ca", &c.tls_ca}, std::pair{"--tls-cert", &c.tls_cert},
                                     std::pair{"--tls-key", &c.tls_key}})
        if (!file->empty() && !std::ifstream(*file))
            return std::unexpected(std::string(flag) + ": cannot read '" + *file + "'");
    s.options.engine.tls = runtime::TlsOptions{
        .ca_file = c.tls_ca, .cert_file = c.tls_cert, .key_file = c.tls_key, .verify_peer = true, .server_name = ""};
    const std::string host = s.options.engine.listen.front().local.host;
    const std::string host_part = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    std::string aor = c.from.empty() ? "sip:referkit@" + host_part : c.from;
    if (auto e = check_uri("--from", aor, true)) return std::unexpected(*e);
    {
        auto uri = parse_uri(aor, UriContext::name_addr);
        s.options.core.contact_user = uri->has_user() ? std::string(uri->user) : "referkit";
    }
    s.label = s.options.core.contact_user;
    s.options.core.aor = aor;
    s.options.core.default_transport = s.transport;
    if (c.trace) {
        s.trace_to = &err;
        s.options.log = [&err](std::string_view line) { err << "[runtime] " << line << std::endl; };
    }
    return s;
}

std::string_view mapped_outcome_name(ReferOutcome o) { return to_string(o); }

int exit_for(ReferOutcome o) {
    switch (o) {
        case ReferOutcome::accepted: return exit_success;
        case ReferOutcome::rejected: return exit_failed;
        case ReferOutcome::unknown: return exit_unknown;
        case ReferOutcome::failed: return exit_timeout;
        case ReferOutcome::pending: return exit_unknown;
    }
    return exit_unknown;
}

// The running part every command shares: io, the user agent, the signal set, the deadlines.
class Runner {
public:
    explicit Runner(const CommonOptions& c) : signals_(io_, SIGINT, SIGTERM), start_(Clock::now()) {
        const auto total = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(c.timeout));
        // Keep up to 1 s (a fifth of the timeout) to end calls and subscriptions cleanly.
        grace_ = std::min<Clock::duration>(std::chrono::seconds(1), total / 5);
        end_ = start_ + total;
        main_deadline_ = end_ - grace_;
        signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
            if (!ec) {
                interrupted_ = true;
                signal_ = signo;
            }
        });
    }
    boost::asio::io_context& io() { return io_; }
    [[nodiscard]] bool interrupted() const { return interrupted_; }
    [[nodiscard]] int signal() const { return signal_; }
    // Waits in the main phase (ends at timeout - grace, or on a signal).
    bool wait(const std::function<bool()>& pred) {
        return run_until(io_, pred, main_deadline_, [this] { return interrupted_; });
    }
    // Waits during clean-up: bounded by the end of --timeout and by 2 s, signals ignored.
    bool settle(const std::function<bool()>& pred) {
        const auto bound = std::min(end_, Clock::now() + std::chrono::seconds(2));
        return run_until(io_, pred, std::max(bound, Clock::now() + std::chrono::milliseconds(50)));
    }
    // Runs forever until a signal (target).
    void until_signal() {
        run_until(io_, [this] { return interrupted_; }, Clock::time_point::max());
    }

private:
    boost::asio::io_context io_;
    boost::asio::signal_set signals_;
    Clock::time_point start_, end_, main_deadline_;
    Clock::duration grace_{};
    bool interrupted_ = false;
    int signal_ = 0;
};

std::unique_ptr<UserAgent> make_ua(Runner& r, Timeline& t, Setup& s, std::function<void(UserAgent&, const SessionEvent&)> extra = {},
                                   std::function<void(const TransfereeEvent&)> on_transferee = {}) {
    std::string label = s.label;
    if (s.trace_to) s.options.engine.trace = message_tracer(t, *s.trace_to, label);
    s.options.on_transferee = [&t, label, on_transferee](UserAgent&, const TransfereeEvent& e) {
        print_transferee_event(t, label, e);
        if (on_transferee) on_transferee(e);
    };
    // The commands answer no request event (MESSAGE, INFO ...): those get 405 at once and are not in Allow.
    std::erase_if(s.options.core.app_methods, [](Method m) { return !taken_by_stack(m); });
    auto on_event = [&t, label, extra](UserAgent& ua, const StackEvent& ev) {
        const auto* e = std::get_if<SessionEvent>(&ev);
        if (e == nullptr) return;  // the commands follow calls only
        print_session_event(t, label, *e);
        if (extra) extra(ua, *e);
    };
    return std::make_unique<UserAgent>(r.io(), std::move(s.options), on_event);
}

TransferOptions transfer_options(const CommonOptions& c, Timeline& t, const std::string& label) {
    TransferOptions o;
    o.refer.extra_headers = c.headers;
    o.refer.referred_by = c.referred_by;
    o.refer.refer_sub = !c.no_refer_sub;
    o.refer.display_name = DisplayNamePolicy::omit;
    o.handlers.on_any = [&t, label](Transfer&, const TransferEvent& e) { print_transfer_event(t, label, e); };
    return o;
}

// Places a call and waits for it. nullopt with `why` set when it did not become confirmed.
std::optional<Session> place_call(Runner& r, Timeline& t, UserAgent& ua, const std::string& label,
                                  const std::string& target, std::string& why, int& code) {
    t.event(label, "invite", 0, {}, "calling " + target);
    auto s = ua.invite(InviteOptions{.target = target, .headers = {}, .body = std::nullopt, .content_type = "application/sdp"});
    if (!s) {
        why = "the INVITE could not be sent: " + std::string(to_string(s.error()));
        code = exit_timeout;
        return std::nullopt;
    }
    Session call = *s;
    r.wait([&] { return call.state() == SessionState::confirmed || !call.state(); });
    if (call.state() == SessionState::confirmed) return call;
    code = r.interrupted() ? exit_unknown : exit_timeout;
    why = r.interrupted() ? "interrupted before the call to " + target + " was up"
          : call.state()  ? "no answer from " + target + " within --timeout"
                          : "the call to " + target + " failed";
    return call;  // not confirmed: the caller ends it
}

// Ends our calls (BYE when up, CANCEL when still ringing) and waits, bounded.
void hang_up(Runner& r, std::vector<Session>& calls) {
    for (auto& call : calls) {
        auto st = call.state();
        if (!st) continue;
        switch (*st) {
            case SessionState::confirmed:
            case SessionState::accepted: (void)call.bye(); break;
            case SessionState::calling:
            case SessionState::proceeding: (void)call.cancel(); break;
            case SessionState::incoming: (void)call.reject(480, "Temporarily Unavailable"); break;
            case SessionState::ending: break;
        }
    }
    r.settle([&] { return std::none_of(calls.begin(), calls.end(), [](const Session& s) { return s.state().has_value(); }); });
}

// Follows a sent transfer to its end; returns (outcome, cause, exit code).
struct Result {
    std::string outcome;
    std::string cause;
    int code = exit_unknown;
    std::string summary;
};

Result follow(Runner& r, Transfer& transfer) {
    r.wait([&] { return transfer.ended(); });
    if (transfer.ended()) {
        const ReferOutcome o = transfer.outcome();
        std::string summary = "REFER ";
        if (auto s = transfer.final_response_status()) summary += "answered " + std::to_string(*s);
        if (auto s = transfer.final_sipfrag_status()) summary += ", final sipfrag " + std::to_string(*s);
        return Result{std::string(mapped_outcome_name(o)), std::string(to_string(transfer.cause())), exit_for(o), summary};
    }
    // Timeout or signal: end the subscription (RFC 6665 §4.1.2.3), bounded.
    const bool interrupted = r.interrupted();
    if (transfer.unsubscribe()) r.settle([&] { return transfer.ended(); });
    if (interrupted)
        return Result{"interrupted", "signal", exit_unknown, "interrupted by signal before the transfer's final status"};
    return Result{"timeout", "timeout", exit_timeout, "no final status within --timeout"};
}

// What `transfer` and `refer` share once their own arguments are valid: the timeline, the runner
// and a started user agent. Constructed in place (Timeline and Runner do not move).
struct Client {
    Client(const CommonOptions& c, std::ostream& out, Setup& setup)
        : t(out, c.json, c.quiet), r(c), label(setup.label), transport(setup.transport), ua(make_ua(r, t, setup)) {}
    // Starts listening; on failure prints the outcome line and returns the exit code.
    std::optional<int> start() {
        if (auto started = ua->start(); !started) {
            t.outcome(label, "failed", "transport_error", exit_timeout, "cannot listen: " + started.error());
            return exit_timeout;
        }
        t.event(label, "listening", 0, {}, ua->contact_uri(transport).value_or(""));
        return std::nullopt;
    }
    Timeline t;
    Runner r;
    std::string label;
    Transport transport;
    std::unique_ptr<UserAgent> ua;
};

}  // namespace

int run_transfer(const CommonOptions& c, const TransferCommand& cmd, std::ostream& out, std::ostream& err) {
    const auto usage = [&err](const std::string& msg) {
        err << "referkit transfer: " << msg << " (see referkit transfer --help)\n";
        return exit_usage;
    };
    if (auto e = check_uri("CALLEE_URI", cmd.callee, true)) return usage(*e);
    if (cmd.to.empty() == cmd.attended.empty()) return usage("give exactly one of --to URI (blind) or --attended URI2");
    if (!cmd.to.empty())
        if (auto e = check_uri("--to", cmd.to, false)) return usage(*e);
    if (!cmd.attended.empty())
        if (auto e = check_uri("--attended", cmd.attended, true)) return usage(*e);
    auto setup = prepare(c, {}, "127.0.0.1:0", err);
    if (!setup) return usage(setup.error());
    Client client(c, out, *setup);
    if (auto failed = client.start()) return *failed;
    Timeline& t = client.t;
    Runner& r = client.r;
    const std::string& label = client.label;
    auto& ua = client.ua;
    std::vector<Session> calls;
    const auto finish = [&](const Result& res) {
        hang_up(r, calls);
        ua->stop();
        t.outcome(label, res.outcome, res.cause, res.code, res.summary);
        return res.code;
    };
    std::string why;
    int code = exit_timeout;
    auto call = place_call(r, t, *ua, label, cmd.callee, why, code);
    if (call) calls.push_back(*call);
    if (!call || call->state() != SessionState::confirmed)
        return finish(Result{code == exit_unknown ? "interrupted" : "failed", code == exit_unknown ? "signal" : "call_not_placed", code, why});
    TransferTarget target = cmd.to;
    if (!cmd.attended.empty()) {
        auto consult = place_call(r, t, *ua, label, cmd.attended, why, code);
        if (consult) calls.push_back(*consult);
        if (!consult || consult->state() != SessionState::confirmed)
            return finish(Result{code == exit_unknown ? "interrupted" : "failed", code == exit_unknown ? "signal" : "call_not_placed", code, why});
        target = *consult;
    }
    auto transfer = call->refer(target, transfer_options(c, t, label));
    if (!transfer)
        return finish(Result{"failed", std::string(to_string(transfer.error().code)), exit_timeout,
                             "REFER not sent: " + transfer.error().detail});
    return finish(follow(r, *transfer));
}

int run_refer(const CommonOptions& c, const std::string& target, const std::string& refer_to, std::ostream& out,
              std::ostream& err) {
    const auto usage = [&err](const std::string& msg) {
        err << "referkit refer: " << msg << " (see referkit refer --help)\n";
        return exit_usage;
    };
    if (auto e = check_uri("TARGET_URI", target, true)) return usage(*e);
    if (refer_to.empty()) return usage("--refer-to URI is required");
    if (auto e = check_uri("--refer-to", refer_to, false)) return usage(*e);
    auto setup = prepare(c, {}, "127.0.0.1:0", err);
    if (!setup) return usage(setup.error());
    Client client(c, out, *setup);
    if (auto failed = client.start()) return *failed;
    Timeline& t = client.t;
    Runner& r = client.r;
    const std::string& label = client.label;
    auto& ua = client.ua;
    TransferOptions options = transfer_options(c, t, label);
    options.refer.active_after_transfer = true;  // out of dialog: there is no call to hang up
    Transfer transfer(*ua, OutOfDialog{.recipient = target}, refer_to, std::move(options));
    Result res;
    if (auto sent = transfer.refer(); !sent) {
        res = Result{"failed", std::string(to_string(sent.error().code)), exit_timeout, "REFER not sent: " + sent.error().detail};
    } else {
        t.event(label, "refer", 0, {}, "REFER " + target + " Refer-To " + refer_to);
        res = follow(r, transfer);
    }
    ua->stop();
    t.outcome(label, res.outcome, res.cause, res.code, res.summary);
    return res.code;
}

// --require-auth FILE: one "user:password" per line ('#' starts a comment line, blank lines are
// skipped). The password never appears on the command line (ps) nor in any output.
std::expected<std::vector<Credentials>, std::string> read_accounts(const std::string& path) {
    std::ifstream in(path);
    if (!in) return std::unexpected("--require-auth: cannot read " + path);
    std::vector<Credentials> accounts;
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty() || line.front() == '#') continue;
        const auto colon = line.find(':');
        if (colon == 0 || colon == std::string::npos || colon + 1 == line.size())
            return std::unexpected("--require-auth: " + path + " line " + std::to_string(n) + " is not USER:PASSWORD");
        accounts.push_back(Credentials{.username = line.substr(0, colon), .password = line.substr(colon + 1), .realm = ""});
    }
    if (accounts.empty()) return std::unexpected("--require-auth: " + path + " has no USER:PASSWORD line");
    return accounts;
}

int run_target(const CommonOptions& c, const TargetCommand& cmd, std::ostream& out, std::ostream& err) {
    const auto usage = [&err](const std::string& msg) {
        err << "referkit target: " << msg << " (see referkit target --help)\n";
        return exit_usage;
    };
    if (cmd.policy != "accept" && cmd.policy != "reject") return usage("--policy must be accept or reject");
    auto setup = prepare(c, cmd.listen, "127.0.0.1:5060", err);
    if (!setup) return usage(setup.error());
    setup->options.engine.max_connections = cmd.max_connections;
    setup->options.engine.max_connections_per_source = cmd.max_connections_per_source;
    if (!(cmd.idle_timeout > 0 && cmd.idle_timeout <= 86400)) return usage("--idle-timeout must be in (0, 86400] seconds");
    setup->options.engine.tcp_idle_timeout =
        std::chrono::milliseconds(static_cast<std::int64_t>(cmd.idle_timeout * 1000));
    setup->options.core.max_sessions_per_source = cmd.max_calls_per_source;
    if (cmd.policy == "reject")
        setup->options.refer.refer_policy = [](const ReferServerContext&) {
            return ReferDecision{.verdict = ReferVerdict::reject, .status = 603, .reason = "Decline"};
        };
    if (auto e = allow_refer_from(cmd.allow_refer_from, setup->options.refer)) return usage(*e);
    if (!cmd.require_auth.empty()) {
        auto accounts = read_accounts(cmd.require_auth);
        if (!accounts) return usage(accounts.error());
        std::string realm = cmd.realm;
        if (realm.empty())
            if (auto u = parse_uri(setup->options.core.aor, UriContext::name_addr); u && !u->host.empty())
                realm = std::string(u->host_address());
        if (realm.empty() || realm.find_first_of("\"\\\r\n") != std::string::npos)
            return usage("--realm must be a non-empty realm without quotes");
        setup->options.core.server_auth = ServerAuth{
            .methods = {Method::refer}, .in_dialog = false,
            .digest = DigestServerConfig{.realm = realm, .accounts = std::move(*accounts)}};
    } else if (!cmd.realm.empty()) {
        return usage("--realm needs --require-auth");
    }

    Timeline t(out, c.json, c.quiet);
    CommonOptions forever = c;  // target runs until a signal; --timeout does not apply
    forever.timeout = 86400;
    Runner r(forever);
    const std::string label = setup->label;
    std::vector<SessionId> sessions;  // every call we answered or placed, to end them on a signal
    auto ua = make_ua(
        r, t, *setup,
        [&sessions](UserAgent& agent, const SessionEvent& e) {
            // Ended calls are forgotten (target runs for days); every new call is answered.
            if (e.kind == SessionEventKind::session_ended) std::erase(sessions, e.session);
            if (e.kind != SessionEventKind::incoming_call) return;
            sessions.push_back(e.session);
            (void)agent.session(e.session).answer();
        },
        [&sessions](const TransfereeEvent& e) {
            if (e.session) sessions.push_back(e.session);
        });
    if (auto started = ua->start(); !started) {
        err << "referkit target: cannot listen: " << started.error() << "\n";
        t.outcome(label, "failed", "transport_error", exit_timeout, "cannot listen: " + started.error());
        return exit_timeout;
    }
    // First line(s): the bound addresses, so that a script can read the ephemeral port.
    for (const auto& [transport, ep] : ua->local_endpoints()) {
        const std::string_view tname = transport == Transport::udp   ? "udp"
                                       : transport == Transport::tcp ? "tcp"
                                       : transport == Transport::tls ? "tls"
                                       : transport == Transport::ws  ? "ws"
                                                                     : "wss";
        const std::string uri = ua->contact_uri(transport).value_or("");
        t.always(label, "listening", std::string(tname) + " " + runtime::format_hostport(ep) + " " + uri,
                 nlohmann::ordered_json{{"transport", tname}, {"address", runtime::format_hostport(ep)}, {"uri", uri}});
    }
    r.until_signal();
    t.event(label, "signal", r.signal(), {}, "stopping: ending calls and transfers");
    std::vector<Session> calls;
    for (SessionId id : sessions)
        if (ua->session(id).state()) calls.push_back(ua->session(id));
    hang_up(r, calls);
    ua->stop();
    t.outcome(label, "stopped", "signal", exit_success, "target stopped by signal " + std::to_string(r.signal()));
    return exit_success;
}

}  // namespace referkit::cli
