// Session and Transfer handles (include/referkit/transfer.hpp): thin forwards to the UserAgent
// that owns the stack.
#include "referkit/transfer.hpp"

#include <utility>

#include "handles.hpp"
#include "referkit/user_agent.hpp"

namespace referkit {

std::string_view to_string(TransferErrc code) noexcept {
    switch (code) {
        case TransferErrc::bad_target: return "bad_target";
        case TransferErrc::not_confirmed: return "not_confirmed";
        case TransferErrc::no_such_session: return "no_such_session";
        case TransferErrc::ua_refused: return "ua_refused";
        case TransferErrc::already_sent: return "already_sent";
        case TransferErrc::no_user_agent: return "no_user_agent";
    }
    return "?";
}

// ------------------------------------------------------------------ Session

// no_such_session when the UserAgent is gone; the command's messages and events are flushed by
// the step running, or by one posted for them.
template <class F>
std::expected<void, UaError> Session::command(F&& f) {
    if (!link_ || link_->ua == nullptr) return std::unexpected(UaError::no_such_session);
    UserAgent& ua = *link_->ua;
    auto r = f(ua.stack(), ua.now());
    if (r) ua.settle();
    return r;
}

std::optional<SessionState> Session::state() const {
    if (!link_ || link_->ua == nullptr) return std::nullopt;
    return link_->ua->stack().session_state(id_);
}

std::optional<DialogInfo> Session::dialog() const {
    if (!link_ || link_->ua == nullptr) return std::nullopt;
    Stack& s = link_->ua->stack();
    auto d = s.session_dialog(id_);
    if (!d) return std::nullopt;
    return s.dialog_info(*d);
}

std::expected<void, UaError> Session::answer(const AnswerOptions& options) {
    return command([&](Stack& s, Time now) { return s.answer(id_, options, now); });
}
std::expected<void, UaError> Session::reject(int status, std::string_view reason) {
    return command([&](Stack& s, Time now) { return s.reject(id_, status, reason, now); });
}
std::expected<void, UaError> Session::bye() {
    return command([&](Stack& s, Time now) { return s.bye(id_, now); });
}
std::expected<void, UaError> Session::cancel() {
    return command([&](Stack& s, Time now) { return s.cancel(id_, now); });
}
std::expected<void, UaError> Session::reinvite(const ReinviteOptions& options) {
    return command([&](Stack& s, Time now) { return s.reinvite(id_, options, now); });
}
std::expected<void, UaError> Session::hold() {
    return reinvite(ReinviteOptions{.direction = MediaDirection::sendonly, .body = std::nullopt});
}
std::expected<void, UaError> Session::unhold() {
    return reinvite(ReinviteOptions{.direction = MediaDirection::sendrecv, .body = std::nullopt});
}

std::expected<Transfer, TransferError> Session::refer(const TransferTarget& target, TransferOptions options) {
    if (!link_ || link_->ua == nullptr)
        return std::unexpected(TransferError{.code = TransferErrc::no_user_agent, .detail = {}});
    Transfer t(*link_->ua, *this, target, std::move(options));
    auto sent = t.refer();
    if (!sent) return std::unexpected(std::move(sent.error()));
    return t;
}

std::expected<Transfer, TransferError> Session::refer(const TransferTarget& target) {
    return refer(target, TransferOptions{});
}

// ------------------------------------------------------------------ Transfer

Transfer::Transfer(UserAgent& ua, const Session& applicant, TransferTarget target, TransferOptions options)
    : state_(std::make_shared<State>()) {
    state_->link = ua.link();
    state_->session = applicant.id();
    state_->target = std::move(target);
    state_->options = std::move(options);
}

Transfer::Transfer(UserAgent& ua, OutOfDialog applicant, TransferTarget target, TransferOptions options)
    : state_(std::make_shared<State>()) {
    state_->link = ua.link();
    state_->out_of_dialog = true;
    state_->recipient = std::move(applicant.recipient);
    state_->target = std::move(target);
    state_->options = std::move(options);
}

std::expected<void, TransferError> Transfer::refer(ReferCallOptions options) {
    if (!state_->link || state_->link->ua == nullptr)
        return std::unexpected(TransferError{.code = TransferErrc::no_user_agent, .detail = {}});
    return state_->link->ua->start_transfer(state_, std::move(options));
}

bool Transfer::unsubscribe() {
    if (!state_->link || state_->link->ua == nullptr || ended()) return false;
    return state_->link->ua->unsubscribe_transfer(*state_);
}

ReferState Transfer::state() const noexcept { return state_->context ? state_->context->state() : ReferState::idle; }
ReferOutcome Transfer::outcome() const noexcept {
    return state_->context ? state_->context->outcome() : ReferOutcome::pending;
}
ReferCause Transfer::cause() const noexcept { return state_->context ? state_->context->cause() : ReferCause::none; }
std::uint32_t Transfer::id() const noexcept { return state_->context ? state_->context->id() : 0; }
std::optional<int> Transfer::final_response_status() const noexcept {
    return state_->context ? state_->context->final_response_status() : std::nullopt;
}
std::optional<int> Transfer::final_sipfrag_status() const noexcept {
    return state_->context ? state_->context->final_sipfrag_status() : std::nullopt;
}
SessionId Transfer::session() const noexcept { return state_->session; }
TransferId Transfer::transfer_id() const noexcept { return state_->id; }
std::shared_ptr<const ReferClientContext> Transfer::context() const noexcept { return state_->context; }
TransferHandlers& Transfer::handlers() noexcept { return state_->options.handlers; }

}  // namespace referkit
