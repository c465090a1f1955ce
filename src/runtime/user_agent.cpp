#include "referkit/user_agent.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <exception>
#include <map>
#include <utility>
#include <variant>

#include <boost/asio/io_context.hpp>

#include "referkit/core/uri.hpp"
#include "referkit/runtime/openssl_digest.hpp"

namespace referkit {

std::function<std::uint64_t()> secure_random() {
    return [] {
        std::uint64_t v = 0;
        unsigned char bytes[sizeof v];
        // RAND_bytes only fails when the CSPRNG cannot be seeded; a SIP stack must not go on with
        // guessable Call-IDs and tags then.
        if (RAND_bytes(bytes, sizeof bytes) != 1) std::terminate();
        std::memcpy(&v, bytes, sizeof v);
        return v;
    };
}

namespace {

// Adds `token` to `list` unless it is there in any case (option tags, event packages).
void add_token(std::vector<std::string>& list, std::string_view token) {
    const auto same = [token](const std::string& t) {
        return t.size() == token.size() && std::equal(t.begin(), t.end(), token.begin(), [](char a, char b) {
                   return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
               });
    };
    if (std::none_of(list.begin(), list.end(), same)) list.emplace_back(token);
}

UserAgentConfig with_runtime_defaults(UserAgentConfig config, const ReferAgentConfig& refer) {
    if (!config.transaction.random) config.transaction.random = secure_random();
    if (!config.digest_hash) config.digest_hash = runtime::openssl_digest_hash();
    // The option tags the ReferAgent implements: advertised in Supported, and accepted in a peer's
    // Require (else §8.2.2.3 makes the core answer 420: an attended transfer from a phone that sends
    // `Require: replaces` would fail). RFC 3891 §6.1, RFC 4488 §4. Not tdialog: the transferee does not
    // act on a received Target-Dialog (RFC 4538 §4), so it must not be claimed.
    if (refer.handle_replaces) add_token(config.supported, "replaces");
    if (refer.server.allow_no_subscription) add_token(config.supported, "norefersub");
    // The ReferAgent's event package; other packages reach the application only if it lists them
    // (489 otherwise, RFC 6665 §8.2.2).
    add_token(config.event_packages, "refer");
    return config;
}

}  // namespace

// The Driven the engine sees. Inputs go to the core; the core's events are offered to the
// ReferAgent inside the input's part of the step (so its answers — the 200 to a NOTIFY, the BYE
// after it — are queued with the step's messages), and what is left for the application is
// queued; after_step() dispatches that queue to the handlers (driven.hpp step 3).
struct UserAgent::Impl final : Driven {
    struct UaItem {
        UaEvent event;
    };
    struct TransferItem {
        std::shared_ptr<detail::TransferState> state;
        TransferEvent event;
    };
    struct ResponseItem {
        std::function<void(const Message&)> receive_response;
        Message response;
    };
    struct TransfereeItem {
        TransfereeEvent event;
    };
    using Item = std::variant<UaItem, TransferItem, ResponseItem, TransfereeItem>;

    Impl(UserAgent& owner, boost::asio::io_context& io, UserAgentOptions options, EventHandler handler)
        : owner_(owner),
          log_(std::move(options.log)),
          contact_user_(options.core.contact_user),
          handler_(std::move(handler)),
          on_transferee_(std::move(options.on_transferee)),
          anchor_(std::make_shared<detail::UaAnchor>(detail::UaAnchor{.ua = &owner})),
          core_(with_runtime_defaults(options.core, options.refer)),
          agent_(core_, agent_config(std::move(options.refer), options.core.aor)),
          engine_(io, *this, with_log(std::move(options.engine))) {}

    runtime::EngineOptions with_log(runtime::EngineOptions o) {
        if (!o.log && log_) o.log = log_;
        // The trace hook runs inside the engine's steps: like every user hook, it cannot throw into them.
        if (o.trace) {
            o.trace = [this, f = std::move(o.trace)](runtime::TraceDirection d, Transport t, const Endpoint& peer,
                                                     std::string_view bytes) {
                guarded("trace hook", [&] { f(d, t, peer, bytes); });
            };
        }
        return o;
    }

    void log(std::string_view line) const {
        if (log_) log_(line);
    }

    // Wraps the user's hooks so that an exception cannot escape into the core.
    ReferAgentConfig agent_config(ReferAgentConfig c, const std::string& aor) {
        if (c.aor.empty()) c.aor = aor;
        // Bare user names ("bob") complete with the AOR's domain unless the application chose one.
        if (c.default_domain.empty()) {
            if (auto u = parse_uri(c.aor, UriContext::name_addr); u && !u->host.empty()) c.default_domain = std::string(u->host);
        }
        if (c.refer_policy) {
            c.refer_policy = [this, policy = std::move(c.refer_policy)](const ReferServerContext& ctx) {
                try {
                    return policy(ctx);
                } catch (...) {
                    log("refer policy threw: the default policy decides");
                    return default_refer_policy(ctx);
                }
            };
        }
        if (c.authorize_replace) {
            c.authorize_replace = [this, f = std::move(c.authorize_replace)](const Message& m, SessionId old) {
                try {
                    return f(m, old);
                } catch (...) {
                    log("authorize_replace threw: the replacement is allowed (the default)");
                    return true;
                }
            };
        }
        return c;
    }

    // --- Driven
    void receive(SharedBuffer bytes, const Source& from, Time now) override {
        core_.receive(std::move(bytes), from, now);
        pump(now);
    }
    std::optional<Transmit> poll_transmit() override { return core_.poll_transmit(); }
    void transport_error(TransactionId id, Time now) override {
        core_.transport_error(id, now);
        pump(now);
    }
    std::optional<Time> next_deadline() const override {
        auto a = core_.next_deadline();
        auto b = agent_.next_deadline();
        if (!a) return b;
        if (!b) return a;
        return std::min(*a, *b);
    }
    void on_timer(Time now) override {
        core_.on_timer(now);
        agent_.on_timer(now);
        pump(now);
    }
    void on_local_address(Transport transport, const Endpoint& local, std::string_view sent_by) override {
        core_.on_local_address(transport, local, sent_by);
    }
    void after_step(Time now) override { dispatch_all(now); }

    // Offers every core event to the ReferAgent and queues what the application must see.
    void pump(Time now) {
        while (auto ev = core_.poll_event()) {
            const bool taken = agent_.handle(*ev, now);
            if (!taken) queue_.emplace_back(UaItem{std::move(*ev)});
            drain_agent(taken ? ev->message : std::nullopt);
        }
        drain_agent(std::nullopt);
    }

    void drain_agent(const std::optional<Message>& cause) {
        while (auto p = agent_.poll_event()) {
            auto it = transfers_.find(p->first.value);
            if (it == transfers_.end()) continue;  // a REFER sent through refer_agent() directly
            std::shared_ptr<detail::TransferState> state = it->second;
            const ReferEvent& e = p->second;
            switch (e.kind) {
                case ReferEventKind::refer_request_accepted:
                case ReferEventKind::refer_request_rejected: state->final_response_status = e.status; break;
                case ReferEventKind::refer_accepted:
                case ReferEventKind::refer_rejected: state->final_sipfrag_status = e.status; break;
                case ReferEventKind::refer_progress:
                case ReferEventKind::notify:
                case ReferEventKind::ended: break;
            }
            if (const ReferClientContext* ctx = agent_.context(p->first)) {
                state->state = ctx->state();
                state->outcome = ctx->outcome();
                state->cause = ctx->cause();
                state->id = ctx->id();
            }
            if (e.kind == ReferEventKind::ended) {
                state->state = ReferState::ended;
                state->outcome = e.outcome;
                state->cause = e.cause;
                if (e.id != 0) state->id = e.id;
                transfers_.erase(it);
            }
            queue_.emplace_back(TransferItem{std::move(state), TransferEvent{std::move(p->second), cause}});
        }
        while (auto t = agent_.poll_transferee_event()) queue_.emplace_back(TransfereeItem{std::move(*t)});
    }

    // Delivers the queue; handlers may issue commands whose events join it.
    void dispatch_all(Time now) {
        if (dispatching_) {  // stop() from inside a handler: the outer loop delivers
            pump(now);
            return;
        }
        dispatching_ = true;
        for (int round = 0; round < 4096; ++round) {
            pump(now);
            if (queue_.empty()) break;
            std::vector<Item> batch = std::move(queue_);
            queue_.clear();
            for (Item& item : batch) std::visit([this](auto& i) { deliver(i); }, item);
        }
        dispatching_ = false;
    }

    template <class F>
    void guarded(const char* what, F&& f) {
        try {
            f();
        } catch (const std::exception& e) {
            log(std::string(what) + " threw: " + e.what());
        } catch (...) {
            log(std::string(what) + " threw a non-standard exception");
        }
    }

    void deliver(UaItem& i) {
        if (handler_) guarded("event handler", [&] { handler_(owner_, i.event); });
    }
    void deliver(ResponseItem& i) {
        if (i.receive_response) guarded("receive_response", [&] { i.receive_response(i.response); });
    }
    void deliver(TransfereeItem& i) {
        if (on_transferee_) guarded("transferee handler", [&] { on_transferee_(owner_, i.event); });
    }
    void deliver(TransferItem& i) {
        Transfer handle(i.state);
        const TransferHandlers& h = i.state->options.handlers;
        TransferHandlers::Handler specific;
        switch (i.event.kind) {
            case ReferEventKind::refer_request_accepted: specific = h.on_refer_request_accepted; break;
            case ReferEventKind::refer_request_rejected: specific = h.on_refer_request_rejected; break;
            case ReferEventKind::refer_progress: specific = h.on_refer_progress; break;
            case ReferEventKind::refer_accepted: specific = h.on_refer_accepted; break;
            case ReferEventKind::refer_rejected: specific = h.on_refer_rejected; break;
            case ReferEventKind::notify: specific = h.on_notify; break;
            case ReferEventKind::ended: specific = h.on_ended; break;
        }
        // Copies: a handler may replace the handlers while it runs.
        TransferHandlers::Handler any = h.on_any;
        if (specific) guarded("transfer handler", [&] { specific(handle, i.event); });
        if (any) guarded("transfer handler", [&] { any(handle, i.event); });
    }

    UserAgent& owner_;
    std::function<void(std::string_view)> log_;
    std::string contact_user_;
    EventHandler handler_;
    TransfereeHandler on_transferee_;
    std::shared_ptr<detail::UaAnchor> anchor_;
    UserAgentCore core_;
    ReferAgent agent_;
    runtime::Engine engine_;
    std::map<std::uint64_t, std::shared_ptr<detail::TransferState>> transfers_;  // live, by ReferHandle
    std::vector<Item> queue_;
    bool dispatching_ = false;
    bool in_command_ = false;  // inside a posted command (its step flushes)
    bool stopped_ = false;
};

UserAgent::UserAgent(boost::asio::io_context& io, UserAgentOptions options, EventHandler on_event)
    : impl_(std::make_unique<Impl>(*this, io, std::move(options), std::move(on_event))) {}

UserAgent::~UserAgent() {
    stop();
    impl_->anchor_->ua = nullptr;
}

std::expected<void, std::string> UserAgent::start() { return impl_->engine_.start(); }

void UserAgent::stop() {
    Impl& i = *impl_;
    if (i.stopped_) return;
    const Time now = i.engine_.now();
    i.agent_.shut_down(now);  // every context ends (unknown, shut_down) ...
    i.dispatch_all(now);      // ... and its handlers see it
    i.stopped_ = true;
    i.engine_.stop();
}

void UserAgent::post(std::function<void(UserAgentCore&, Time)> command) {
    Impl* impl = impl_.get();
    impl_->engine_.post([impl, c = std::move(command)](Time now) {
        const bool outer = impl->in_command_;
        impl->in_command_ = true;
        c(impl->core_, now);
        impl->in_command_ = outer;
        impl->pump(now);
    });
}

UserAgentCore& UserAgent::core() noexcept { return impl_->core_; }
runtime::Engine& UserAgent::engine() noexcept { return impl_->engine_; }
ReferAgent& UserAgent::refer_agent() noexcept { return impl_->agent_; }
std::size_t UserAgent::transfers_live() const noexcept { return impl_->transfers_.size(); }
const std::shared_ptr<detail::UaAnchor>& UserAgent::anchor() const noexcept { return impl_->anchor_; }
Time UserAgent::now() const { return impl_->engine_.now(); }
std::vector<std::pair<Transport, Endpoint>> UserAgent::local_endpoints() const {
    return impl_->engine_.local_endpoints();
}

void UserAgent::settle() {
    Impl& i = *impl_;
    if (i.stopped_) return;
    if (i.dispatching_ || i.in_command_) {
        i.pump(now());  // the step we are in flushes and dispatches
        return;
    }
    i.engine_.post([](Time) {});
}

std::expected<Session, UaError> UserAgent::invite(const InviteOptions& options) {
    if (impl_->stopped_) return std::unexpected(UaError::no_such_session);
    auto id = impl_->core_.invite(options, now());
    if (!id) return std::unexpected(id.error());
    settle();
    return Session(impl_->anchor_, *id);
}

Session UserAgent::session(SessionId id) { return Session(impl_->anchor_, id); }

namespace {

std::string_view header_name(std::string_view line) {
    auto colon = line.find(':');
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.remove_prefix(1);
    return name;
}

bool same_name(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t k = 0; k < a.size(); ++k)
        if ((a[k] | 0x20) != (b[k] | 0x20)) return false;
    return true;
}

TransferErrc transfer_errc(ReferStartErrc e) {
    switch (e) {
        case ReferStartErrc::bad_target: return TransferErrc::bad_target;
        case ReferStartErrc::not_confirmed: return TransferErrc::not_confirmed;
        case ReferStartErrc::no_such_session: return TransferErrc::no_such_session;
        case ReferStartErrc::ua_refused: return TransferErrc::ua_refused;
    }
    return TransferErrc::ua_refused;
}

}  // namespace

std::expected<void, TransferError> UserAgent::start_transfer(const std::shared_ptr<detail::TransferState>& state,
                                                             ReferCallOptions call) {
    Impl& i = *impl_;
    if (i.stopped_) return std::unexpected(TransferError{.code = TransferErrc::no_user_agent, .detail = "stopped"});
    if (state->sent) return std::unexpected(TransferError{.code = TransferErrc::already_sent, .detail = {}});
    const TransferOptions& o = state->options;
    // Constructor headers, then refer()'s; a name given in refer() replaces the constructor's.
    std::vector<std::string> headers;
    for (const std::string& h : o.extra_headers) {
        bool overridden = false;
        for (const std::string& c : call.extra_headers)
            if (same_name(header_name(h), header_name(c))) overridden = true;
        if (!overridden) headers.push_back(h);
    }
    headers.insert(headers.end(), call.extra_headers.begin(), call.extra_headers.end());
    std::function<void(const Message&)> user_rr = call.receive_response ? call.receive_response : o.receive_response;
    std::function<void(const Message&)> rr;
    if (user_rr) {
        // Called by the ReferAgent inside the step: queued, delivered with the handlers.
        Impl* impl = &i;
        rr = [impl, user_rr](const Message& m) { impl->queue_.emplace_back(Impl::ResponseItem{user_rr, m}); };
    }
    ReferOptions ro{.extra_headers = std::move(headers),
                    .receive_response = std::move(rr),
                    .active_after_transfer = o.active_after_transfer,
                    .referred_by = o.referred_by,
                    .refer_sub = o.refer_sub,
                    .target_dialog = o.target_dialog,
                    .notify_wait = o.notify_wait,
                    .refresh_margin = ReferOptions{}.refresh_margin,
                    .display_name = o.display_name};
    const Time t = now();
    std::expected<ReferHandle, ReferStartError> r = std::unexpected(ReferStartError{});
    if (const Session* other = std::get_if<Session>(&state->target)) {
        if (state->out_of_dialog)
            return std::unexpected(TransferError{.code = TransferErrc::bad_target,
                                                 .detail = "an attended transfer needs a session as applicant"});
        r = i.agent_.refer_attended(state->session, other->id(), std::move(ro), t);
    } else {
        std::string text;
        if (const std::string* s = std::get_if<std::string>(&state->target)) text = *s;
        else text = std::string(std::get<Uri>(state->target).text);
        r = state->out_of_dialog ? i.agent_.refer_out_of_dialog(state->recipient, text, std::move(ro), t)
                                 : i.agent_.refer(state->session, text, std::move(ro), t);
    }
    if (!r)
        return std::unexpected(TransferError{.code = transfer_errc(r.error().code), .detail = r.error().detail,
                                             .ua_error = r.error().ua_error});
    state->sent = true;
    state->handle = *r;
    if (const ReferClientContext* ctx = i.agent_.context(*r)) {
        state->state = ctx->state();
        state->id = ctx->id();
    }
    i.transfers_.emplace(r->value, state);
    settle();
    return {};
}

bool UserAgent::unsubscribe_transfer(detail::TransferState& state) {
    Impl& i = *impl_;
    if (i.stopped_ || !state.handle) return false;
    if (!i.agent_.unsubscribe(state.handle, now())) return false;
    settle();
    return true;
}

std::optional<std::string> UserAgent::contact_uri(Transport transport) const {
    for (const auto& [t, ep] : impl_->engine_.local_endpoints()) {
        if (t != transport) continue;
        std::string uri = "sip:";
        uri += impl_->contact_user_;
        uri += '@';
        uri += runtime::format_hostport(ep);
        if (transport != Transport::udp) {
            uri += ";transport=";
            for (char c : transport_name(transport)) uri += static_cast<char>(c | 0x20);  // lower case
        }
        return uri;
    }
    return std::nullopt;
}

}  // namespace referkit
