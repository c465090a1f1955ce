// The timer queue shared by the transaction layer and the Stack (src/core/transaction/timer_queue.hpp):
// deadline order, arming order among equal deadlines, cancel, stale handles, slot reuse, and a
// seeded random run against an ordered-set model.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "timer_queue.hpp"

namespace referkit {
namespace {

using Queue = TimerQueue<int>;
using std::chrono::milliseconds;

Time at(int ms) { return Time{} + milliseconds(ms); }

std::vector<int> drain(Queue& q, Time now) {
    std::vector<int> out;
    while (auto e = q.pop_due(now)) out.push_back(e->payload);
    return out;
}

TEST(TimerQueue, PopsByDeadlineThenArmingOrder) {
    Queue q;
    q.arm(at(30), 1);
    q.arm(at(10), 2);
    q.arm(at(20), 3);
    q.arm(at(10), 4);
    EXPECT_EQ(q.next(), at(10));
    EXPECT_EQ(q.size(), 4u);
    EXPECT_EQ(drain(q, at(15)), (std::vector<int>{2, 4}));
    EXPECT_EQ(q.next(), at(20));
    EXPECT_EQ(drain(q, at(100)), (std::vector<int>{3, 1}));
    EXPECT_EQ(q.next(), std::nullopt);
    EXPECT_EQ(q.size(), 0u);
}

TEST(TimerQueue, CancelRemovesOnlyItsEntry) {
    Queue q;
    auto a = q.arm(at(10), 1);
    q.arm(at(20), 2);
    auto c = q.arm(at(5), 3);
    q.cancel(c);
    EXPECT_EQ(q.next(), at(10));
    EXPECT_EQ(q.when(a), at(10));
    EXPECT_EQ(q.when(c), std::nullopt);
    q.cancel(a);
    EXPECT_EQ(drain(q, at(100)), (std::vector<int>{2}));
}

TEST(TimerQueue, StaleHandlesAreIgnoredAfterTheSlotIsReused) {
    Queue q;
    auto a = q.arm(at(10), 1);
    ASSERT_EQ(drain(q, at(10)), (std::vector<int>{1}));
    auto b = q.arm(at(20), 2);  // reuses a's slot
    EXPECT_EQ(b.slot, a.slot);
    q.cancel(a);  // fired already: nothing happens to b
    q.cancel(a);
    EXPECT_EQ(q.when(b), at(20));
    EXPECT_EQ(q.size(), 1u);
    q.cancel(b);
    q.cancel(b);
    EXPECT_EQ(q.size(), 0u);
}

TEST(TimerQueue, SlotSetKeepsOneEntryPerOwner) {
    Queue q;
    TimerSlot<int> s;
    s.set(q, at(10), 1);
    s.set(q, at(10), 1);  // unchanged: still one entry
    EXPECT_EQ(q.size(), 1u);
    s.set(q, at(30), 1);
    EXPECT_EQ(q.size(), 1u);
    EXPECT_EQ(q.next(), at(30));
    s.set(q, std::nullopt, 1);
    EXPECT_FALSE(s.armed());
    EXPECT_EQ(q.size(), 0u);
}

// Random arms, cancels and pops against std::set ordered by (deadline, arming order).
TEST(TimerQueue, MatchesAnOrderedSetModelOnRandomOperations) {
    std::mt19937_64 rng(0x5eed);
    Queue q;
    using Key = std::pair<Time, std::uint64_t>;
    std::set<Key> model;
    std::map<std::uint64_t, std::pair<Queue::Handle, int>> live;  // seq -> handle, payload
    std::uint64_t seq = 0;
    int now = 0;
    for (int step = 0; step < 20000; ++step) {
        const auto op = rng() % 10;
        if (op < 5) {
            const Time when = at(now + static_cast<int>(rng() % 1000));
            const int payload = static_cast<int>(seq);
            live[seq] = {q.arm(when, payload), payload};
            model.insert({when, seq});
            ++seq;
        } else if (op < 8 && !live.empty()) {
            auto it = live.begin();
            std::advance(it, static_cast<long>(rng() % live.size()));
            const auto when = q.when(it->second.first);
            ASSERT_TRUE(when.has_value());
            q.cancel(it->second.first);
            ASSERT_EQ(model.erase({*when, it->first}), 1u);
            live.erase(it);
        } else {
            now += static_cast<int>(rng() % 200);
            while (auto e = q.pop_due(at(now))) {
                ASSERT_FALSE(model.empty());
                const Key first = *model.begin();
                ASSERT_EQ(e->when, first.first);
                ASSERT_EQ(static_cast<std::uint64_t>(e->payload), first.second);
                model.erase(model.begin());
                live.erase(first.second);
            }
            ASSERT_TRUE(model.empty() || model.begin()->first > at(now));
        }
        ASSERT_EQ(q.size(), model.size());
        ASSERT_EQ(q.next(), model.empty() ? std::nullopt : std::optional<Time>(model.begin()->first));
    }
}

}  // namespace
}  // namespace referkit
