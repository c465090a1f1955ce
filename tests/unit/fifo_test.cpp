// The output queue of the transaction layer and the Stack (src/core/transaction/fifo.hpp): order,
// a consumer that never drains it, and the storage a burst leaves behind.
#include <gtest/gtest.h>

#include <cstddef>
#include <string>

#include "fifo.hpp"

namespace referkit {
namespace {

TEST(Fifo, FirstInFirstOut) {
    Fifo<std::string> q;
    EXPECT_TRUE(q.empty());
    q.push_back("a");
    q.emplace_back("b");
    q.push_back("c");
    EXPECT_EQ(q.size(), 3u);
    EXPECT_EQ(q.front(), "a");
    EXPECT_EQ(q.back(), "c");
    EXPECT_EQ(q.take(), "a");
    q.pop_front();  // "b"
    EXPECT_EQ(q.take(), "c");
    EXPECT_TRUE(q.empty());
}

// Pushing one and popping one for ever, never empty: the popped elements are dropped in halves, so
// the storage stays bounded and the order is kept.
TEST(Fifo, ANeverDrainedQueueStaysBoundedAndOrdered) {
    Fifo<std::size_t> q;
    q.push_back(0);
    for (std::size_t i = 1; i < 100000; ++i) {
        q.push_back(i);
        ASSERT_EQ(q.take(), i - 1);
        ASSERT_EQ(q.size(), 1u);
    }
    EXPECT_LE(q.capacity(), 256u);
}

// A burst of 40,000 (a timer tick that ends as many transactions) does not keep its storage once
// drained; an ordinary step's does.
TEST(Fifo, ADrainedBurstGivesItsStorageBack) {
    Fifo<std::string> q;
    for (int i = 0; i < 40000; ++i) q.push_back(std::to_string(i));
    EXPECT_GE(q.capacity(), 40000u);
    for (int i = 0; i < 40000; ++i) ASSERT_EQ(q.take(), std::to_string(i));
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.capacity(), 0u);
    for (int i = 0; i < 10; ++i) q.push_back("x");
    while (!q.empty()) q.pop_front();
    EXPECT_GE(q.capacity(), 10u);  // kept for the next step
}

}  // namespace
}  // namespace referkit
