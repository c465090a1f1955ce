// INVITEs with Replaces (RFC 3891 §3) inside the Stack: the new call is matched against our
// dialogs by (Call-ID, to-tag = our tag, from-tag = theirs) through the dialog set's index, and
// against the calls that ended within ReferConfig::ended_memory (603 then); decide_replaces
// (replaces.hpp) decides, the requester must be authorized (ReferConfig::authorize_replace, by
// default the replaced call's remote party or one it referred: 403 otherwise), and the stack answers
// the new call and hangs up (BYE) or cancels (CANCEL) the one it replaces.
#pragma once
#include <deque>
#include <string>
#include <unordered_map>

#include "referkit/core/stack.hpp"

namespace referkit::stack {

class Replacer {
public:
    explicit Replacer(Stack::Impl& stack) : s_(stack) {}

    // The incoming call `event` is one this handler takes (handle_replaces and a Replaces header):
    // it never reaches the application as incoming_call.
    [[nodiscard]] bool takes(const SessionEvent& event) const;
    // Decides on and acts for the INVITE of session `session` (after the stack queued its other
    // events, so the application sees them in order).
    void on_invite(SessionId session, const Message& invite, Time now);
    // A call ended: remembered for ended_memory by its dialog's identifiers.
    void on_session_ended(SessionId session, DialogId dialog, Time now);

private:
    void forget_old(Time now);

    Stack::Impl& s_;
    // (Call-ID, local tag, remote tag) of calls ended recently -> the session; oldest first.
    std::unordered_map<std::string, SessionId> ended_;
    std::deque<std::pair<std::string, Time>> ended_order_;
};

}  // namespace referkit::stack
