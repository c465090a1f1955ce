// One ordered timer queue: entries ordered by deadline and, for equal deadlines, by arming order
// (so runs are deterministic). Arming and cancelling are O(log n); the next deadline is O(1).
// The transaction layer keeps every SIP timer of every transaction in one (RFC 3261 Appendix A),
// and the Stack keeps every timer of its usages in another (src/core/stack/).
//
// An indexed binary heap in two vectors: arming reuses freed slots, so a steady state of timers
// allocates nothing. A handle names a slot and its generation; a handle whose entry fired or was
// cancelled is stale, and cancelling it does nothing.
#pragma once
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

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
    };
    struct Handle {
        std::uint32_t slot = 0;
        std::uint32_t generation = 0;
    };

    Handle arm(Time when, Payload payload) {
        std::uint32_t s;
        if (free_.empty()) {
            s = static_cast<std::uint32_t>(slots_.size());
            slots_.emplace_back();
        } else {
            s = free_.back();
            free_.pop_back();
        }
        Slot& slot = slots_[s];
        slot.payload = std::move(payload);
        slot.pos = static_cast<std::uint32_t>(heap_.size());
        heap_.push_back(Node{when, next_seq_++, s});
        sift_up(slot.pos);
        return Handle{s, slot.generation};
    }
    // Removes the entry; a stale handle (fired or cancelled already) is ignored.
    void cancel(Handle h) {
        if (!live(h)) return;
        remove_at(slots_[h.slot].pos);
    }
    // The deadline of a live handle's entry; nullopt when stale.
    [[nodiscard]] std::optional<Time> when(Handle h) const {
        if (!live(h)) return std::nullopt;
        return heap_[slots_[h.slot].pos].when;
    }
    [[nodiscard]] std::optional<Time> next() const {
        if (heap_.empty()) return std::nullopt;
        return heap_.front().when;
    }
    // Removes and returns the earliest entry due at or before now.
    std::optional<Entry> pop_due(Time now) {
        if (heap_.empty() || heap_.front().when > now) return std::nullopt;
        const Node top = heap_.front();
        Entry e{top.when, top.seq, std::move(slots_[top.slot].payload)};
        remove_at(0);
        return e;
    }
    [[nodiscard]] std::size_t size() const noexcept { return heap_.size(); }

private:
    static constexpr std::uint32_t k_free = ~std::uint32_t{0};
    struct Node {
        Time when{};
        std::uint64_t seq = 0;
        std::uint32_t slot = 0;
    };
    struct Slot {
        std::uint32_t pos = k_free;  // index in heap_, k_free when not armed
        std::uint32_t generation = 0;
        Payload payload{};
    };

    [[nodiscard]] bool live(Handle h) const noexcept {
        return h.slot < slots_.size() && slots_[h.slot].generation == h.generation && slots_[h.slot].pos != k_free;
    }
    static bool before(const Node& x, const Node& y) noexcept {
        return x.when != y.when ? x.when < y.when : x.seq < y.seq;
    }
    void place(std::size_t i, const Node& n) {
        heap_[i] = n;
        slots_[n.slot].pos = static_cast<std::uint32_t>(i);
    }
    void sift_up(std::size_t i) {
        const Node n = heap_[i];
        while (i > 0) {
            const std::size_t parent = (i - 1) / 2;
            if (!before(n, heap_[parent])) break;
            place(i, heap_[parent]);
            i = parent;
        }
        place(i, n);
    }
    void sift_down(std::size_t i) {
        const Node n = heap_[i];
        const std::size_t size = heap_.size();
        while (true) {
            std::size_t child = 2 * i + 1;
            if (child >= size) break;
            if (child + 1 < size && before(heap_[child + 1], heap_[child])) ++child;
            if (!before(heap_[child], n)) break;
            place(i, heap_[child]);
            i = child;
        }
        place(i, n);
    }
    void remove_at(std::size_t i) {
        Slot& gone = slots_[heap_[i].slot];
        const std::uint32_t freed = heap_[i].slot;
        gone.pos = k_free;
        ++gone.generation;
        gone.payload = Payload{};
        free_.push_back(freed);
        const Node last = heap_.back();
        heap_.pop_back();
        if (i == heap_.size()) return;  // it was the last node
        place(i, last);
        if (i > 0 && before(last, heap_[(i - 1) / 2])) sift_up(i);
        else sift_down(i);
    }

    std::vector<Node> heap_;
    std::vector<Slot> slots_;
    std::vector<std::uint32_t> free_;
    std::uint64_t next_seq_ = 0;
};

// A timer slot of one owner: at most one armed entry, re-armed or cancelled in O(log n).
template <class Payload>
class TimerSlot {
public:
    void arm(TimerQueue<Payload>& q, Time when, Payload payload) {
        if (handle_) q.cancel(*handle_);
        handle_ = q.arm(when, std::move(payload));
    }
    // Arms at `when`, or cancels when nullopt; nothing changes when already armed at `when`.
    void set(TimerQueue<Payload>& q, std::optional<Time> when, Payload payload) {
        if (!when) {
            cancel(q);
            return;
        }
        if (handle_ && q.when(*handle_) == when) return;
        arm(q, *when, std::move(payload));
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
