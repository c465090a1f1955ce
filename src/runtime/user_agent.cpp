// UserAgent = Engine + Stack + the dispatch of the stack's events to the application's handlers.
#include "referkit/user_agent.hpp"

#include <openssl/rand.h>

#include <cstring>
#include <exception>
#include <unordered_map>
#include <variant>

#include "handles.hpp"
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

// The Driven the engine sees: every input goes to the stack, and after_step() hands the stack's
// events to the handlers (driven.hpp step 3), so they run after the step's messages were sent.
struct UserAgent::Impl final : Driven {
    Impl(UserAgent& owner, boost::asio::io_context& io, UserAgentOptions options, EventHandler handler)
        : owner_(owner),
          log_(std::move(options.log)),
          contact_user_(options.core.contact_user),
          handler_(std::move(handler)),
          on_transferee_(std::move(options.on_transferee)),
          link_(std::make_shared<detail::UaLink>(detail::UaLink{.ua = &owner})),
          stack_(stack_config(std::move(options.core), std::move(options.refer))),
          engine_(io, *this, with_log(std::move(options.engine))) {}

    // The runtime's defaults (OpenSSL randomness and digest) and the user's hooks wrapped so that
    // an exception cannot escape into the stack.
    StackConfig stack_config(UserAgentConfig core, ReferConfig refer) {
        // No event handler: nobody answers a request event, so none waits to time out.
        if (!handler_) std::erase_if(core.app_methods, [](Method m) { return !taken_by_stack(m); });
        if (!core.transaction.random) core.transaction.random = secure_random();
        if (!core.digest_hash) core.digest_hash = runtime::openssl_digest_hash();
        if (refer.refer_policy) {
            refer.refer_policy = [this, policy = std::move(refer.refer_policy)](const ReferServerContext& ctx) {
                try {
                    return policy(ctx);
                } catch (...) {
                    log("refer policy threw: the default policy decides");
                    return default_refer_policy(ctx);
                }
            };
        }
        if (refer.authorize_replace) {
            refer.authorize_replace = [this, f = std::move(refer.authorize_replace)](const Message& m, SessionId old,
                                                                                      ReplaceRelation relation) {
                try {
                    return f(m, old, relation);
                } catch (...) {
                    log("authorize_replace threw: the default decides");
                    return default_authorize_replace(relation);
                }
            };
        }
        if (refer.allow_refer_from) {
            refer.allow_refer_from = [this, f = std::move(refer.allow_refer_from)](const Message& m, const Source& from) {
                try {
                    return f(m, from);
                } catch (...) {
                    log("allow_refer_from threw: the REFER is refused (the default)");
                    return false;
                }
            };
        }
        return StackConfig{.ua = std::move(core), .refer = std::move(refer)};
    }

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

    // --- Driven
    void receive(SharedBuffer bytes, const Source& from, Time now) override { stack_.receive(std::move(bytes), from, now); }
    std::optional<Transmit> poll_transmit() override { return stack_.poll_transmit(); }
    void transport_error(TransactionId id, Time now) override { stack_.transport_error(id, now); }
    std::optional<Time> next_deadline() const override { return stack_.next_deadline(); }
    void on_timer(Time now) override { stack_.on_timer(now); }
    void on_local_address(Transport transport, const Endpoint& local, std::string_view sent_by) override {
        stack_.on_local_address(transport, local, sent_by);
    }
    void after_step(Time) override { dispatch(); }

    // Delivers the stack's events in order; handlers may give commands whose events join the queue.
    void dispatch() {
        if (dispatching_) return;  // stop() from inside a handler: the loop below goes on delivering
        dispatching_ = true;
        while (auto ev = stack_.poll_event()) std::visit([this](auto& e) { deliver(e); }, *ev);
        dispatching_ = false;
    }

    template <class E>
    void deliver(E& e) {
        if (handler_) guarded("event handler", [&] { handler_(owner_, StackEvent{e}); });
    }
    void deliver(TransfereeEvent& e) {
        if (on_transferee_) guarded("transferee handler", [&] { on_transferee_(owner_, e); });
    }
    void deliver(TransferResponseEvent& e) {
        auto it = transfers_.find(e.transfer);
        if (it == transfers_.end()) return;
        if (auto rr = it->second->receive_response) guarded("receive_response", [&] { rr(e.response); });
    }
    void deliver(TransferEvent& e) {
        auto it = transfers_.find(e.transfer);
        if (it == transfers_.end()) return;
        std::shared_ptr<Transfer::State> state = it->second;
        if (e.kind == ReferEventKind::ended) transfers_.erase(it);
        Transfer handle(state);
        const TransferHandlers& h = state->options.handlers;
        TransferHandlers::Handler specific;
        switch (e.kind) {
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
        if (specific) guarded("transfer handler", [&] { specific(handle, e); });
        if (any) guarded("transfer handler", [&] { any(handle, e); });
    }

    UserAgent& owner_;
    std::function<void(std::string_view)> log_;
    std::string contact_user_;
    EventHandler handler_;
    TransfereeHandler on_transferee_;
    std::shared_ptr<detail::UaLink> link_;
    Stack stack_;
    runtime::Engine engine_;
    std::unordered_map<TransferId, std::shared_ptr<Transfer::State>, IdHash> transfers_;  // live
    bool dispatching_ = false;
    bool in_command_ = false;  // inside a posted command (its step flushes)
    bool stopped_ = false;
};

UserAgent::UserAgent(boost::asio::io_context& io, UserAgentOptions options, EventHandler on_event)
    : impl_(std::make_unique<Impl>(*this, io, std::move(options), std::move(on_event))) {}

UserAgent::~UserAgent() {
    stop();
    impl_->link_->ua = nullptr;
}

std::expected<void, std::string> UserAgent::start() { return impl_->engine_.start(); }

void UserAgent::stop() {
    Impl& i = *impl_;
    if (i.stopped_) return;
    i.stack_.shut_down(i.engine_.now());  // every transfer ends (unknown, shut_down) ...
    i.dispatch();                         // ... and its handlers see it
    i.stopped_ = true;
    i.engine_.stop();
}

void UserAgent::post(std::function<void(UserAgent&)> command) {
    Impl* impl = impl_.get();
    impl_->engine_.post([impl, c = std::move(command)](Time) {
        const bool outer = impl->in_command_;
        impl->in_command_ = true;
        c(impl->owner_);
        impl->in_command_ = outer;
    });
}

Time UserAgent::now() const { return impl_->engine_.now(); }
std::vector<std::pair<Transport, Endpoint>> UserAgent::local_endpoints() const {
    return impl_->engine_.local_endpoints();
}
Stack& UserAgent::stack() noexcept { return impl_->stack_; }
std::size_t UserAgent::transfers_live() const noexcept { return impl_->transfers_.size(); }
std::size_t UserAgent::transferees_live() const noexcept { return impl_->stack_.counts().transferees; }
const runtime::EngineCounters& UserAgent::engine_counters() const noexcept { return impl_->engine_.counters(); }
const std::shared_ptr<detail::UaLink>& UserAgent::link() const noexcept { return impl_->link_; }

void UserAgent::settle() {
    Impl& i = *impl_;
    if (i.stopped_ || i.dispatching_ || i.in_command_) return;  // the step we are in flushes and dispatches
    i.engine_.post([](Time) {});
}

std::expected<Session, UaError> UserAgent::invite(const InviteOptions& options) {
    if (impl_->stopped_) return std::unexpected(UaError::no_such_session);
    auto id = impl_->stack_.invite(options, now());
    if (!id) return std::unexpected(id.error());
    settle();
    return Session(impl_->link_, *id);
}

Session UserAgent::session(SessionId id) { return Session(impl_->link_, id); }

std::expected<SentRequest, UaError> UserAgent::send_request(const OutOfDialogRequest& request) {
    if (impl_->stopped_) return std::unexpected(UaError::no_such_request);
    auto r = impl_->stack_.send_request(request, now());
    if (r) settle();
    return r;
}

std::expected<SentRequest, UaError> UserAgent::send_in_dialog(DialogId dialog, const InDialogRequest& request) {
    if (impl_->stopped_) return std::unexpected(UaError::no_such_dialog);
    auto r = impl_->stack_.send_in_dialog(dialog, request, now());
    if (r) settle();
    return r;
}

std::expected<DialogId, UaError> UserAgent::respond(IncomingId id, const UaResponse& response) {
    if (impl_->stopped_) return std::unexpected(UaError::no_such_request);
    auto r = impl_->stack_.respond(id, response, now());
    if (r) settle();
    return r;
}

std::optional<DialogInfo> UserAgent::dialog_info(DialogId id) const { return impl_->stack_.dialog_info(id); }

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

namespace {

std::string_view header_name(std::string_view line) {
    auto colon = line.find(':');
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.remove_prefix(1);
    return name;
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

std::expected<void, TransferError> UserAgent::start_transfer(const std::shared_ptr<Transfer::State>& state,
                                                             ReferCallOptions call) {
    Impl& i = *impl_;
    if (i.stopped_) return std::unexpected(TransferError{.code = TransferErrc::no_user_agent, .detail = "stopped"});
    if (state->sent) return std::unexpected(TransferError{.code = TransferErrc::already_sent, .detail = {}});
    ReferOptions ro = state->options.refer;
    // Constructor headers, then refer()'s; a name given in refer() replaces the constructor's.
    std::vector<std::string> headers;
    for (const std::string& h : ro.extra_headers) {
        bool overridden = false;
        for (const std::string& c : call.extra_headers)
            if (iequals(header_name(h), header_name(c))) overridden = true;
        if (!overridden) headers.push_back(h);
    }
    headers.insert(headers.end(), call.extra_headers.begin(), call.extra_headers.end());
    ro.extra_headers = std::move(headers);
    const Time t = now();
    std::expected<TransferId, ReferStartError> r = std::unexpected(ReferStartError{});
    if (const Session* other = std::get_if<Session>(&state->target)) {
        if (state->out_of_dialog)
            return std::unexpected(TransferError{.code = TransferErrc::bad_target,
                                                 .detail = "an attended transfer needs a session as applicant"});
        r = i.stack_.refer_attended(state->session, other->id(), std::move(ro), t);
    } else {
        std::string text;
        if (const std::string* s = std::get_if<std::string>(&state->target)) text = *s;
        else text = std::string(std::get<Uri>(state->target).text);
        r = state->out_of_dialog ? i.stack_.refer_out_of_dialog(state->recipient, text, std::move(ro), t)
                                 : i.stack_.refer(state->session, text, std::move(ro), t);
    }
    if (!r)
        return std::unexpected(TransferError{.code = transfer_errc(r.error().code), .detail = r.error().detail,
                                             .ua_error = r.error().ua_error});
    state->sent = true;
    state->id = *r;
    state->context = i.stack_.transfer(*r);
    state->receive_response = call.receive_response ? call.receive_response : state->options.receive_response;
    i.transfers_.emplace(*r, state);
    settle();
    return {};
}

bool UserAgent::unsubscribe_transfer(const Transfer::State& state) {
    Impl& i = *impl_;
    if (i.stopped_ || !state.id) return false;
    if (!i.stack_.unsubscribe(state.id, now())) return false;
    settle();
    return true;
}

}  // namespace referkit
