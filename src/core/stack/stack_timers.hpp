// The Stack's one timer queue (every timer of every usage above the transaction layer) and what
// its entries point at. The transaction layer keeps its own queue; Stack::next_deadline is the
// earlier of the two heads, O(1).
#pragma once
#include <cstdint>

#include "../transaction/timer_queue.hpp"

namespace referkit::stack {

enum class TimerKind : std::uint8_t {
    session_2xx,       // a 2xx we retransmit until its ACK (RFC 3261 §13.3.1.4); id = SessionId
    session_reinvite,  // a re-INVITE retried after 491 (§14.1); id = SessionId
    incoming,          // a request the application has not answered; id = IncomingId
    transfer,          // a ReferClientContext's next deadline (NOTIFY wait, expiry, refresh); id = TransferId
    transferee,        // a ReferServerContext's next deadline (subscription expiry); id = TransfereeId
};

struct TimerRef {
    TimerKind kind = TimerKind::incoming;
    std::uint64_t id = 0;
};

using StackTimers = TimerQueue<TimerRef>;
using StackTimer = TimerSlot<TimerRef>;

}  // namespace referkit::stack
