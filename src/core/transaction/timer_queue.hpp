// One ordered timer queue: entries ordered by deadline and, for equal deadlines, by arming order
// (so runs are deterministic). Arming and cancelling are O(log n); the next deadline is O(1).
// The transaction layer keeps every SIP timer of every transaction in one (RFC 3261 Appendix A),
// and the Stack keeps every timer of its usages in another (src/core/stack/).
#pragma once
#include <cstdint>
#include <optional>
#include <set>

#include "referkit/core/time.hpp"

namespace referkit {

// `Payload` says whose timer an entry is; it is handed back when the entry is due.
template <class Payload>
class TimerQueue {
public:
    struct Entry {
        Time when{};
        std::uint64_t seq = 0;
        Payload payload{};
        friend bool operator<(const Entry& x, const Entry& y) noexcept {
            return x.when != y.when ? x.when < y.when : x.seq < y.seq;
        }
    };
    using Handle = typename std::set<Entry>::const_iterator;

    Handle arm(Time when, Payload payload) { return entries_.insert(Entry{when, next_seq_++, payload}).first; }
    void cancel(Handle h) { entries_.erase(h); }
    [[nodiscard]] std::optional<Time> next() const {
        if (entries_.empty()) return std::nullopt;
        return entries_.begin()->when;
    }
    // Removes and returns the earliest entry due at or before now.
    std::optional<Entry> pop_due(Time now) {
        if (entries_.empty() || entries_.begin()->when > now) return std::nullopt;
        Entry e = *entries_.begin();
        entries_.erase(entries_.begin());
        return e;
    }
    [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

private:
    std::set<Entry> entries_;
    std::uint64_t next_seq_ = 0;
};

// A timer slot of one owner: at most one armed entry, re-armed or cancelled in O(log n).
template <class Payload>
class TimerSlot {
public:
    void arm(TimerQueue<Payload>& q, Time when, Payload payload) {
        if (handle_) q.cancel(*handle_);
        handle_ = q.arm(when, payload);
    }
    // Arms at `when`, or cancels when nullopt; nothing changes when already armed at `when`.
    void set(TimerQueue<Payload>& q, std::optional<Time> when, Payload payload) {
        if (!when) {
            cancel(q);
            return;
        }
        if (handle_ && (*handle_)->when == *when) return;
        arm(q, *when, payload);
    }
    void cancel(TimerQueue<Payload>& q) {
        if (handle_) q.cancel(*handle_);
        handle_.reset();
    }
    // The entry fired (pop_due removed it): forget the handle without cancelling.
    void fired() noexcept { handle_.reset(); }
    [[nodiscard]] bool armed() const noexcept { return handle_.has_value(); }

private:
    std::optional<typename TimerQueue<Payload>::Handle> handle_;
};

}  // namespace referkit
