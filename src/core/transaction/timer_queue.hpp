// The layer's single timer queue: every SIP timer of every transaction, ordered by deadline and,
// for equal deadlines, by arming order (so runs are deterministic). Cancelling is O(log n).
#pragma once
#include <cstdint>
#include <optional>
#include <set>

#include "referkit/core/time.hpp"

namespace referkit::txn {

// RFC 3261 Appendix A, RFC 6026 (L, M), the 200 ms 100 Trying of §17.2.1 and the 64*T1 an INVITE
// client transaction waits for a final response after its CANCEL was sent (§9.1).
enum class TimerName : std::uint8_t { a, b, d, e, f, k, g, h, i, j, l, m, trying, cancel_guard };

struct TimerEntry {
    Time when{};
    std::uint64_t seq = 0;
    std::uint64_t transaction = 0;
    TimerName name = TimerName::a;
    friend bool operator<(const TimerEntry& x, const TimerEntry& y) noexcept {
        return x.when != y.when ? x.when < y.when : x.seq < y.seq;
    }
};

class TimerQueue {
public:
    using Handle = std::set<TimerEntry>::const_iterator;

    Handle arm(Time when, std::uint64_t transaction, TimerName name) {
        return entries_.insert(TimerEntry{when, next_seq_++, transaction, name}).first;
    }
    void cancel(Handle h) { entries_.erase(h); }
    [[nodiscard]] std::optional<Time> next() const {
        if (entries_.empty()) return std::nullopt;
        return entries_.begin()->when;
    }
    // Removes and returns the earliest entry due at or before now.
    std::optional<TimerEntry> pop_due(Time now) {
        if (entries_.empty() || entries_.begin()->when > now) return std::nullopt;
        TimerEntry e = *entries_.begin();
        entries_.erase(entries_.begin());
        return e;
    }
    [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

private:
    std::set<TimerEntry> entries_;
    std::uint64_t next_seq_ = 0;
};

}  // namespace referkit::txn
