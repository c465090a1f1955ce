// The public surface of Stack (include/referkit/core/stack.hpp): inputs, commands and inspection,
// each followed by drain() so that what it caused is routed before it returns.
#include "referkit/core/stack.hpp"

#include <algorithm>

#include "stack_impl.hpp"

namespace referkit {

using namespace stack;

namespace {

// Adds `token` to `list` unless it is there in any case (option tags, event packages).
void add_token(std::vector<std::string>& list, std::string_view token) {
    if (std::none_of(list.begin(), list.end(), [token](const std::string& t) { return iequals(t, token); }))
        list.emplace_back(token);
}

StackConfig completed(StackConfig c) {
    ReferConfig& r = c.refer;
    if (r.aor.empty()) r.aor = c.ua.aor;
    // Bare user names ("bob") complete with the AOR's domain unless a domain is configured.
    if (r.default_domain.empty()) {
        if (auto u = parse_uri(r.aor, UriContext::name_addr); u && !u->host.empty()) r.default_domain = std::string(u->host);
    }
    // The option tags the stack implements: advertised in Supported and accepted in a peer's
    // Require (§8.2.2.3 answers 420 otherwise: an attended transfer from a phone that sends
    // `Require: replaces` would fail). RFC 3891 §6.1, RFC 4488 §4. Not tdialog: a received
    // Target-Dialog is not acted on (RFC 4538 §4), so it must not be claimed.
    if (r.handle_replaces) add_token(c.ua.supported, "replaces");
    if (r.handle_refer && r.server.allow_no_subscription) add_token(c.ua.supported, "norefersub");
    // The refer package; other packages reach the application only if it lists them (489
    // otherwise, RFC 6665 §8.2.2).
    if (r.handle_refer) add_token(c.ua.event_packages, "refer");
    return c;
}

TransactionOptions shared_random(UserAgentConfig& c, std::shared_ptr<std::function<std::uint64_t()>>& out,
                                 std::function<bool(const Message&)> in_dialog) {
    out = std::make_shared<std::function<std::uint64_t()>>(std::move(c.transaction.random));
    TransactionOptions o = c.transaction;
    o.in_dialog = std::move(in_dialog);
    if (*out) o.random = [r = out] { return (*r)(); };  // else unset: the TransactionLayer aborts (precondition)
    return o;
}

}  // namespace

Stack::Impl::Impl(StackConfig c)
    : config(completed(std::move(c))),
      // A request in one of our dialogs may use the transactions held in reserve (Limits), so a
      // flood of strangers' requests never sheds it. Called only inside txl.receive().
      txl(shared_random(config.ua, random_source, [this](const Message& m) {
          return dialogs.find(m.call_id(), m.to().tag, m.from().tag) != nullptr;
      })) {
    router.register_subscriber("refer", transferor, config.refer.handle_refer);
    if (config.refer.handle_refer) router.register_notifier("refer", transferee);
    if (!config.ua.server_auth.methods.empty() && config.ua.digest_hash) {
        const std::uint64_t a = random(), b = random();  // the nonces' key
        auth.emplace(config.ua.server_auth.digest, config.ua.digest_hash, a, b);
    }
}

std::string allow_value(std::span<const Method> app_methods) {
    std::string s = "INVITE, ACK, BYE, CANCEL, OPTIONS";
    for (Method m : app_methods) {
        if (m == Method::invite || m == Method::ack || m == Method::bye || m == Method::cancel ||
            m == Method::options || method_name(m).empty())
            continue;
        s += ", ";
        s += method_name(m);
    }
    return s;
}

Stack::Stack(StackConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Stack::~Stack() = default;

// ------------------------------------------------------------------ Driven

void Stack::receive(SharedBuffer bytes, const Source& from, Time now) {
    impl_->txl.receive(std::move(bytes), from, now);
    impl_->drain(now);
}

std::optional<Transmit> Stack::poll_transmit() { return impl_->txl.poll_transmit(); }

void Stack::transport_error(TransactionId id, Time now) {
    if (!id) return;
    impl_->txl.transport_error(id, now);
    impl_->drain(now);
}

std::optional<Time> Stack::next_deadline() const {
    auto a = impl_->txl.next_deadline();
    auto b = impl_->timers.next();
    if (!a) return b;
    if (!b) return a;
    return std::min(*a, *b);
}

void Stack::on_timer(Time now) {
    Impl& I = *impl_;
    I.txl.on_timer(now);
    I.drain(now);
    while (auto e = I.timers.pop_due(now)) {
        I.fire(e->payload, now);
        I.drain(now);
    }
}

void Stack::on_local_address(Transport transport, const Endpoint& local, std::string_view sent_by) {
    impl_->txl.set_sent_by(transport, std::string(sent_by));
    std::string hp(sent_by);
    if (hp.empty()) {
        hp = local.host.find(':') != std::string::npos ? std::string("[").append(local.host).append("]") : local.host;
        if (local.port != 0) hp.append(":").append(std::to_string(local.port));
    }
    impl_->sender.set_contact_hostport(transport, std::move(hp));
}

std::optional<StackEvent> Stack::poll_event() {
    if (impl_->events.empty()) return std::nullopt;
    StackEvent e = impl_->events.take();
    return e;
}

// ------------------------------------------------------------------ commands

namespace {
// Runs a command, then routes what it caused.
template <class F>
auto command(Stack::Impl& I, Time now, F&& f) {
    auto r = f();
    I.drain(now);
    return r;
}
}  // namespace

std::expected<SessionId, UaError> Stack::invite(const InviteOptions& options, Time now) {
    return command(*impl_, now, [&] { return impl_->sessions.invite(options, now); });
}
std::expected<void, UaError> Stack::cancel(SessionId id, Time now) {
    return command(*impl_, now, [&] { return impl_->sessions.cancel(id, now); });
}
std::expected<void, UaError> Stack::answer(SessionId id, const AnswerOptions& options, Time now) {
    return command(*impl_, now, [&] { return impl_->sessions.answer(id, options, now); });
}
std::expected<void, UaError> Stack::reject(SessionId id, int status, std::string_view reason, Time now) {
    return command(*impl_, now, [&] { return impl_->sessions.reject(id, status, reason, now); });
}
std::expected<void, UaError> Stack::bye(SessionId id, Time now) {
    return command(*impl_, now, [&] { return impl_->sessions.bye(id, now); });
}
std::expected<void, UaError> Stack::reinvite(SessionId id, const ReinviteOptions& options, Time now) {
    return command(*impl_, now, [&] { return impl_->sessions.reinvite(id, options, now); });
}
std::expected<SentRequest, UaError> Stack::send_request(const OutOfDialogRequest& request, Time now) {
    return command(*impl_, now, [&] { return impl_->requests.send(request, RequestOwner::application, now); });
}
std::expected<SentRequest, UaError> Stack::send_in_dialog(DialogId dialog, const InDialogRequest& request, Time now) {
    return command(*impl_, now,
                   [&] { return impl_->requests.send(dialog, request, RequestOwner::application, now); });
}
std::expected<DialogId, UaError> Stack::respond(IncomingId id, const UaResponse& response, Time now) {
    return command(*impl_, now, [&] { return impl_->requests.respond(id, response, now); });
}

std::expected<void, UaError> Stack::add_usage(DialogId id) {
    if (!impl_->dialogs.use(id)) return std::unexpected(UaError::no_such_dialog);
    return {};
}

std::expected<void, UaError> Stack::remove_usage(DialogId id, Time now) {
    if (impl_->dialogs.find(id) == nullptr) return std::unexpected(UaError::no_such_dialog);
    impl_->release_usage(id);
    impl_->drain(now);
    return {};
}

std::expected<TransferId, ReferStartError> Stack::refer(SessionId session, std::string_view target,
                                                        ReferOptions options, Time now) {
    return command(*impl_, now, [&] { return impl_->transferor.refer(session, target, std::move(options), now); });
}
std::expected<TransferId, ReferStartError> Stack::refer_attended(SessionId session, SessionId other,
                                                                 ReferOptions options, Time now) {
    return command(*impl_, now,
                   [&] { return impl_->transferor.refer_attended(session, other, std::move(options), now); });
}
std::expected<TransferId, ReferStartError> Stack::refer_out_of_dialog(std::string_view request_uri,
                                                                      std::string_view target, ReferOptions options,
                                                                      Time now) {
    return command(*impl_, now, [&] {
        return impl_->transferor.refer_out_of_dialog(request_uri, target, std::move(options), now);
    });
}
bool Stack::unsubscribe(TransferId id, Time now) {
    return command(*impl_, now, [&] { return impl_->transferor.unsubscribe(id, now); });
}
std::shared_ptr<const ReferClientContext> Stack::transfer(TransferId id) const { return impl_->transferor.find(id); }
const ReferServerContext* Stack::transferee(TransfereeId id) const { return impl_->transferee.find(id); }

void Stack::shut_down(Time now) {
    impl_->transferor.shut_down(now);
    impl_->transferee.shut_down(now);
    impl_->drain(now);
}

// ------------------------------------------------------------------ inspection

std::optional<SessionState> Stack::session_state(SessionId id) const {
    const InviteSession* s = impl_->sessions.find(id);
    if (s == nullptr) return std::nullopt;
    return s->state;
}

std::optional<DialogId> Stack::session_dialog(SessionId id) const {
    const InviteSession* s = impl_->sessions.find(id);
    if (s == nullptr || !s->dialog) return std::nullopt;
    return s->dialog;
}

std::optional<DialogInfo> Stack::dialog_info(DialogId id) const {
    const DialogEntry* d = impl_->dialogs.find(id);
    if (d == nullptr) return std::nullopt;
    return d->dialog.info();
}

std::optional<DialogInfo> Stack::request_info(RequestId id) const {
    const ClientRequest* r = impl_->requests.find(id);
    if (r == nullptr) return std::nullopt;
    const Outgoing& o = r->out;
    DialogInfo i;
    i.call_id = o.request.call_id;
    i.local_tag = o.from_tag;
    i.local_uri = o.from_uri;
    i.remote_uri = o.to_uri;
    i.remote_target = o.request.request_uri;
    i.local_cseq = o.request.cseq;
    if (const DialogEntry* d = impl_->dialogs.find(r->dialog)) {
        i = d->dialog.info();
        i.local_cseq = o.request.cseq;
    }
    return i;
}

StackCounts Stack::counts() const {
    const Impl& I = *impl_;
    return StackCounts{.sessions = I.sessions.size(), .dialogs = I.dialogs.size(),
                       .requests = I.requests.outgoing_count(), .incoming = I.requests.incoming_count(),
                       .transactions = I.txl.transaction_count(), .timers = I.txl.timer_count() + I.timers.size(),
                       .transaction_owners = I.clients.size() + I.servers.size() + I.merge_keys.size(),
                       .transfers = I.transferor.size(), .transferees = I.transferee.size()};
}

std::string Stack::allow_value() const { return impl_->sender.allow_value(); }
const StackConfig& Stack::config() const noexcept { return impl_->config; }
const TransactionLayer& Stack::transactions() const noexcept { return impl_->txl; }

// ------------------------------------------------------------------ names

std::string_view to_string(UaError e) noexcept {
    switch (e) {
        case UaError::no_such_session: return "no such session";
        case UaError::no_such_dialog: return "no such dialog";
        case UaError::no_such_request: return "no such request";
        case UaError::wrong_state: return "wrong state";
        case UaError::invalid_target: return "invalid target";
        case UaError::invalid_message: return "invalid message";
        case UaError::transaction_failed: return "transaction failed";
        case UaError::limit_reached: return "limit reached";
    }
    return "?";
}

std::string_view to_string(EndCause c) noexcept {
    switch (c) {
        case EndCause::bye_local: return "bye_local";
        case EndCause::bye_remote: return "bye_remote";
        case EndCause::cancelled: return "cancelled";
        case EndCause::rejected: return "rejected";
        case EndCause::failed: return "failed";
        case EndCause::no_ack: return "no_ack";
    }
    return "?";
}

std::string_view to_string(SessionEventKind k) noexcept {
    switch (k) {
        case SessionEventKind::incoming_call: return "incoming_call";
        case SessionEventKind::session_progress: return "session_progress";
        case SessionEventKind::session_answered: return "session_answered";
        case SessionEventKind::session_confirmed: return "session_confirmed";
        case SessionEventKind::session_ended: return "session_ended";
        case SessionEventKind::offer_received: return "offer_received";
        case SessionEventKind::answer_received: return "answer_received";
        case SessionEventKind::reinvite_failed: return "reinvite_failed";
    }
    return "?";
}

std::string_view to_string(TransfereeEventKind kind) noexcept {
    switch (kind) {
        case TransfereeEventKind::refer_received: return "refer_received";
        case TransfereeEventKind::transfer_started: return "transfer_started";
        case TransfereeEventKind::transfer_notified: return "transfer_notified";
        case TransfereeEventKind::transfer_ended: return "transfer_ended";
        case TransfereeEventKind::replaced: return "replaced";
        case TransfereeEventKind::replace_rejected: return "replace_rejected";
    }
    return "?";
}

}  // namespace referkit
