// Session and Transfer handles (include/referkit/transfer.hpp): thin forwards to the UserAgent
// that owns the core and the ReferAgent.
#include "referkit/transfer.hpp"

#include <utility>

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

std::optional<SessionState> Session::state() const {
    if (!anchor_ || anchor_->ua == nullptr) return std::nullopt;
    return anchor_->ua->core().session_state(id_);
}

std::optional<DialogInfo> Session::dialog() const {
    if (!anchor_ || anchor_->ua == nullptr) return std::nullopt;
    UserAgentCore& core = anchor_->ua->core();
    auto d = core.session_dialog(id_);
    if (!d) return std::nullopt;
    return core.dialog_info(*d);
}

std::expected<void, UaError> Session::answer(const AnswerOptions& options) {
    if (!anchor_ || anchor_->ua == nullptr) return std::unexpected(UaError::no_such_session);
    UserAgent& ua = *anchor_->ua;
    auto r = ua.core().answer(id_, options, ua.now());
    if (r) ua.settle();
    return r;
}

std::expected<void, UaError> Session::reject(int status, std::string_view reason) {
    if (!anchor_ || anchor_->ua == nullptr) return std::unexpected(UaError::no_such_session);
    UserAgent& ua = *anchor_->ua;
    auto r = ua.core().reject(id_, status, reason, ua.now());
    if (r) ua.settle();
    return r;
}

std::expected<void, UaError> Session::bye() {
    if (!anchor_ || anchor_->ua == nullptr) return std::unexpected(UaError::no_such_session);
    UserAgent& ua = *anchor_->ua;
    auto r = ua.core().bye(id_, ua.now());
    if (r) ua.settle();
    return r;
}

std::expected<Transfer, TransferError> Session::refer(const TransferTarget& target, TransferOptions options) {
    if (!anchor_ || anchor_->ua == nullptr)
        return std::unexpected(TransferError{.code = TransferErrc::no_user_agent, .detail = {}});
    Transfer t(*anchor_->ua, *this, target, std::move(options));
    auto sent = t.refer();
    if (!sent) return std::unexpected(std::move(sent.error()));
    return t;
}

std::expected<Transfer, TransferError> Session::refer(const TransferTarget& target) {
    return refer(target, TransferOptions{});
}

// ------------------------------------------------------------------ Transfer

Transfer::Transfer(UserAgent& ua, const Session& applicant, TransferTarget target, TransferOptions options)
    : state_(std::make_shared<detail::TransferState>()) {
    state_->anchor = ua.anchor();
    state_->session = applicant.id();
    state_->target = std::move(target);
    state_->options = std::move(options);
}

Transfer::Transfer(UserAgent& ua, OutOfDialog applicant, TransferTarget target, TransferOptions options)
    : state_(std::make_shared<detail::TransferState>()) {
    state_->anchor = ua.anchor();
    state_->out_of_dialog = true;
    state_->recipient = std::move(applicant.recipient);
    state_->target = std::move(target);
    state_->options = std::move(options);
}

std::expected<void, TransferError> Transfer::refer(ReferCallOptions options) {
    if (!state_->anchor || state_->anchor->ua == nullptr)
        return std::unexpected(TransferError{.code = TransferErrc::no_user_agent, .detail = {}});
    return state_->anchor->ua->start_transfer(state_, std::move(options));
}

bool Transfer::unsubscribe() {
    if (!state_->anchor || state_->anchor->ua == nullptr || state_->state == ReferState::ended) return false;
    return state_->anchor->ua->unsubscribe_transfer(*state_);
}

ReferState Transfer::state() const noexcept { return state_->state; }
ReferOutcome Transfer::outcome() const noexcept { return state_->outcome; }
ReferCause Transfer::cause() const noexcept { return state_->cause; }
std::uint32_t Transfer::id() const noexcept { return state_->id; }
std::optional<int> Transfer::final_response_status() const noexcept { return state_->final_response_status; }
std::optional<int> Transfer::final_sipfrag_status() const noexcept { return state_->final_sipfrag_status; }
SessionId Transfer::session() const noexcept { return state_->session; }
ReferHandle Transfer::handle() const noexcept { return state_->handle; }
TransferHandlers& Transfer::handlers() noexcept { return state_->options.handlers; }

}  // namespace referkit
