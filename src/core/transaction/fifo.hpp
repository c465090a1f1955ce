// A first-in first-out queue over one vector that keeps its storage: once the queue has been as
// long as it gets, pushing and popping allocate nothing (std::deque allocates a block every few
// large elements). The queues of outputs (transmits, events) fill during one step and are drained
// by the caller; a drained queue keeps up to 64 elements' storage and releases more.
#pragma once
#include <cstddef>
#include <iterator>
#include <utility>
#include <vector>

namespace referkit {

template <class T>
class Fifo {
public:
    [[nodiscard]] bool empty() const noexcept { return head_ == items_.size(); }
    [[nodiscard]] std::size_t size() const noexcept { return items_.size() - head_; }
    // Elements the storage holds (queued, popped but not yet compacted, and room to grow).
    [[nodiscard]] std::size_t capacity() const noexcept { return items_.capacity(); }
    T& front() { return items_[head_]; }
    T& back() { return items_.back(); }
    void push_back(T v) { items_.push_back(std::move(v)); }
    template <class... A>
    T& emplace_back(A&&... a) {
        return items_.emplace_back(std::forward<A>(a)...);
    }
    void pop_front() {
        items_[head_] = T{};  // release what the element holds now, not at the next compaction
        advance();
    }
    // Removes and returns the first element (the moved-from element holds nothing).
    T take() {
        T v = std::move(items_[head_]);
        advance();
        return v;
    }

private:
    static constexpr std::size_t k_keep = 64;  // elements kept when the queue drains

    void advance() {
        if (++head_ == items_.size()) {
            // Drained: keep the storage of an ordinary step, give back what a burst grew (a
            // timer tick that ends 40,000 transactions queues 40,000 events).
            if (items_.capacity() > k_keep) std::vector<T>().swap(items_);
            else items_.clear();
            head_ = 0;
        } else if (head_ >= 64 && head_ * 2 >= items_.size()) {
            // A consumer that never drains the queue: drop the popped half (amortised O(1)).
            items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
            head_ = 0;
        }
    }

    std::vector<T> items_;
    std::size_t head_ = 0;
};

}  // namespace referkit
