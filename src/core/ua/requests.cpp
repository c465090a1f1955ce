// Requests with no usage (RFC 3261 §8, §11, §22.2): see requests.hpp.
#include "requests.hpp"

#include "../stack/stack_impl.hpp"
#include "referkit/core/header_id.hpp"

namespace referkit::stack {

namespace {

bool is_target_refresh(Method m) {
    // §12.2 (INVITE), RFC 3311 (UPDATE), RFC 6665 §4.3 (SUBSCRIBE, NOTIFY), RFC 3515 §2.4.1 (REFER:
    // it creates a subscription, so it carries exactly one Contact).
    return m == Method::invite || m == Method::update || m == Method::subscribe || m == Method::notify ||
           m == Method::refer;
}

// INVITE, ACK, CANCEL and BYE belong to sessions; any other token may go as a generic request.
bool generic_method(std::string_view method) {
    const Method m = lookup_method(method);
    return is_token(method) && m != Method::invite && m != Method::ack && m != Method::cancel && m != Method::bye;
}

}  // namespace

bool Requests::full() const noexcept { return out_.size() + in_.size() >= s_.config.ua.max_requests; }

bool Requests::source_full(const Source& from) const {
    const std::size_t bound = s_.config.ua.max_requests_per_source;
    if (bound == 0) return false;
    auto it = per_source_.find(from.remote.host);
    return it != per_source_.end() && it->second >= bound;
}

RequestId Requests::add(Outgoing out, TransactionId tx, bool creates_dialog, DialogId dialog, bool report_challenges,
                        RequestOwner owner) {
    const RequestId id{next_request_++};
    ClientRequest& r = out_[id];
    r = ClientRequest{.id = id, .tx = tx, .out = std::move(out), .creates_dialog = creates_dialog, .dialog = dialog,
                      .usage_given = false, .report_challenges = report_challenges, .owner = owner};
    s_.own_client(tx, ClientRole::request, id.value);
    return id;
}

std::expected<SentRequest, UaError> Requests::send(const OutOfDialogRequest& request, RequestOwner owner, Time now) {
    if (!generic_method(request.method)) return std::unexpected(UaError::invalid_message);
    if (full()) return std::unexpected(UaError::limit_reached);
    if (request.creates_dialog && s_.dialogs.size() >= s_.config.ua.max_dialogs)
        return std::unexpected(UaError::limit_reached);
    auto o = s_.sender.out_of_dialog(request.method, request.target, request.headers, request.creates_dialog, false);
    if (!o) return std::unexpected(o.error());
    o->request.content_type = request.content_type;
    o->request.body = request.body;
    auto tx = s_.sender.send(*o, now);
    if (!tx) return std::unexpected(tx.error());
    const std::uint32_t cseq = o->request.cseq;
    const std::string call_id = o->request.call_id, from_tag = o->from_tag;
    const RequestId id = add(std::move(*o), *tx, request.creates_dialog, {}, request.report_challenges, owner);
    if (request.creates_dialog)
        s_.router.creating_sent(id, call_id, from_tag, cseq,
                                owner == RequestOwner::transferor ? &s_.transferor : nullptr);
    return SentRequest{.id = id, .cseq = cseq};
}

std::expected<SentRequest, UaError> Requests::send(DialogId dialog, const InDialogRequest& request, RequestOwner owner,
                                                   Time now) {
    DialogEntry* d = s_.dialogs.find(dialog);
    if (d == nullptr) return std::unexpected(UaError::no_such_dialog);
    if (!generic_method(request.method)) return std::unexpected(UaError::invalid_message);
    if (full()) return std::unexpected(UaError::limit_reached);
    const std::uint32_t before = d->dialog.info().local_cseq;
    Outgoing o = s_.sender.in_dialog(*d, request.method, request.headers, is_target_refresh(lookup_method(request.method)),
                                     false);
    o.request.content_type = request.content_type;
    o.request.body = request.body;
    auto tx = s_.sender.send(o, now);
    if (!tx) {
        d->dialog.set_local_cseq(before);
        return std::unexpected(tx.error());
    }
    const std::uint32_t cseq = o.request.cseq;
    return SentRequest{.id = add(std::move(o), *tx, false, dialog, request.report_challenges, owner), .cseq = cseq};
}

ClientRequest* Requests::find(RequestId id) {
    auto it = out_.find(id);
    return it == out_.end() ? nullptr : &it->second;
}

const ClientRequest* Requests::find(RequestId id) const {
    auto it = out_.find(id);
    return it == out_.end() ? nullptr : &it->second;
}

void Requests::on_response(ClientRequest& r, TransactionEvent& ev, const Message* m, Time now) {
    const int status = m != nullptr ? m->status() : (ev.kind == EventKind::timeout ? 408 : 503);
    const ResponseOrigin origin = ev.kind == EventKind::timeout           ? ResponseOrigin::timeout
                                  : ev.kind == EventKind::transport_error ? ResponseOrigin::transport_error
                                                                          : ResponseOrigin::wire;
    const Method method = lookup_method(r.out.request.method);
    if ((status == 401 || status == 407) && m != nullptr) {
        if (auto id = s_.sender.retry_with_credentials(r.out, *m, now)) {
            r.tx = *id;
            s_.own_client(*id, ClientRole::request, r.id.value);
            // Answered here; surfaced only to a requester that asked, as informational (final
            // false, retried true) with the retry's CSeq: its own responses follow under the same id.
            if (r.report_challenges)
                s_.notice(ResponseNotice{.owner = r.owner,
                                         .event = ResponseEvent{.request = r.id, .dialog = r.dialog, .method = method,
                                                                .cseq = r.out.request.cseq, .status = status,
                                                                .final = false, .origin = ResponseOrigin::wire,
                                                                .retried = true, .message = *m}});
            return;
        }
    }
    DialogId d = r.dialog;
    if (status >= 200 && status < 300 && m != nullptr) {
        if (r.creates_dialog && !r.dialog && !m->to().tag.empty()) {
            if (DialogEntry* existing = s_.dialogs.find(r.out.request.call_id, r.out.from_tag, m->to().tag)) {
                d = existing->id;
            } else if (auto made = Dialog::as_uac(r.out.dialog_fields(), *m);
                       made && s_.dialogs.size() < s_.config.ua.max_dialogs) {
                // §12.1.2; the connection the 2xx came on carries the dialog's requests.
                d = s_.dialogs.add(std::move(*made), r.out.destination.transport, ev.source.connection, 1).id;
                r.usage_given = true;
            }
            r.dialog = d;
        } else if (DialogEntry* de = s_.dialogs.find(r.dialog); de != nullptr && !r.creates_dialog) {
            if (m->cseq().method == Method::subscribe) de->dialog.refresh_target(*m);
        }
    }
    const bool final = status >= 200;
    ResponseNotice n{.owner = r.owner,
                     .event = ResponseEvent{.request = r.id, .dialog = d, .method = method, .cseq = r.out.request.cseq,
                                            .status = status, .final = final, .origin = origin, .retried = false,
                                            .message = m != nullptr ? std::optional<Message>(*m) : std::nullopt}};
    if (final) {
        if (r.creates_dialog)
            s_.router.creating_ended(r.id, r.out.request.call_id, r.out.from_tag, status >= 200 && status < 300, now);
        out_.erase(r.id);  // r is gone from here
    }
    s_.notice(std::move(n));
}

void Requests::deliver(ServerRequest request, Time now) {
    const IncomingId id{next_incoming_++};
    Incoming& in = in_.emplace(id, Incoming{.id = id, .request = std::move(request), .answer_by = {}}).first->second;
    ++per_source_[in.request.source.remote.host];
    if (s_.config.ua.unanswered_request_timeout.count() > 0)
        in.answer_by.arm(s_.timers, now + s_.config.ua.unanswered_request_timeout,
                         TimerRef{.kind = TimerKind::incoming, .id = id.value});
    s_.servers[in.request.tx.value] = ServerOwner{.role = ServerRole::incoming, .owner = id.value};
    const Message& m = in.request.message;
    s_.emit(RequestEvent{.incoming = id, .dialog = in.request.dialog, .created_by = in.request.created_by,
                         .method = m.method(), .message = m, .authenticated_user = in.request.authenticated_user});
}

std::expected<DialogId, UaError> Requests::respond(IncomingId id, const UaResponse& response, Time now) {
    auto it = in_.find(id);
    if (it == in_.end()) return std::unexpected(UaError::no_such_request);
    Incoming& in = it->second;
    auto d = s_.respond(in.request, response, now);
    if (!d) {
        if (d.error() == UaError::no_such_request) forget(id, in.request.tx);  // its transaction is gone
        return d;
    }
    if (response.status >= 200) forget(id, in.request.tx);
    return d;
}

void Requests::answer_timeout(IncomingId id, Time now) {
    auto it = in_.find(id);
    if (it == in_.end()) return;
    it->second.answer_by.fired();
    // §21.4.9: a request the application never answered gets 408 (and is forgotten).
    auto answered = respond(id, UaResponse{.status = 408, .reason = {}, .headers = {}, .content_type = {}, .body = {},
                                           .creates_dialog = false},
                            now);
    // Whatever happened, the request is forgotten.
    if (!answered) {
        if (auto again = in_.find(id); again != in_.end()) forget(id, again->second.request.tx);
    }
}

void Requests::forget(IncomingId id, TransactionId tx) {
    auto it = in_.find(id);
    if (it == in_.end() || it->second.request.tx != tx) return;
    it->second.answer_by.cancel(s_.timers);
    if (auto n = per_source_.find(it->second.request.source.remote.host); n != per_source_.end() && --n->second == 0)
        per_source_.erase(n);
    in_.erase(it);
}

}  // namespace referkit::stack
