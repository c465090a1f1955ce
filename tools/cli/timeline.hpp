// The live timeline the referkit commands print, and the helpers they share to drive user agents
// on one io_context with bounded waits.
#pragma once
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <string_view>

#include "referkit/transfer.hpp"
#include "referkit/user_agent.hpp"

namespace referkit::cli {

// One line per event: "  812 ms  alice    referProgress         100 Trying     summary", or with
// json one object per line ({"t_ms":812,"ua":"alice","event":"referProgress","status":100,
// "reason":"Trying","summary":...}). Every line is flushed. `quiet` suppresses event lines; the
// outcome line is always printed. Not thread-safe (the commands are single-threaded).
//
// Repeats are coalesced, so a flood cannot turn into a flood of lines: once an event line (same ua,
// event, status, reason and summary) was printed kRepeatFree times within kRepeatWindow, further
// copies in that window are counted, not printed; the count comes out as one
// {"event":"repeated","of":EVENT,"count":N,...} line before the next line printed and before the
// outcome. A few equal lines (two calls ending alike) still print one by one.
class Timeline {
public:
    static constexpr long long kRepeatWindow = 1000;  // ms
    static constexpr std::size_t kRepeatFree = 3;     // equal lines printed per window
    // `clock`: elapsed milliseconds (tests give a virtual one); empty = since construction.
    Timeline(std::ostream& out, bool json, bool quiet = false, std::function<long long()> clock = {});
    // Elapsed milliseconds since construction.
    [[nodiscard]] long long elapsed_ms() const;
    void event(std::string_view ua, std::string_view event, int status, std::string_view reason,
               std::string_view summary);
    // The last line: {"t_ms":..,"ua":..,"event":"outcome","outcome":..,"cause":..,"exit":..,"summary":..}.
    void outcome(std::string_view ua, std::string_view outcome, std::string_view cause, int exit_code,
                 std::string_view summary);
    // A line that must appear even with quiet (e.g. the bound address of `target`).
    void always(std::string_view ua, std::string_view event, std::string_view summary, nlohmann::ordered_json extra = {});

private:
    struct Repeat {
        std::string ua, event;
        long long window_ms = 0;   // when its window began (its first line in it)
        std::size_t printed = 0;   // lines printed in the window
        std::size_t suppressed = 0;
    };
    void write(const nlohmann::ordered_json& j, std::string_view text);
    // Prints the "repeated" lines of the counts held, and forgets what is older than the window.
    void flush_repeats(long long now_ms);
    std::ostream& out_;
    bool json_;
    bool quiet_;
    std::chrono::steady_clock::time_point start_;
    std::function<long long()> clock_;
    std::map<std::string, Repeat> repeats_;  // by the line's identity; at most kMaxRepeatKeys
    static constexpr std::size_t kMaxRepeatKeys = 256;
};

using Deadline = std::chrono::steady_clock::time_point;

// Runs io until pred() holds (true), `deadline` passes or stop() holds (false). Never blocks
// longer than ~5 ms past the deadline.
bool run_until(boost::asio::io_context& io, const std::function<bool()>& pred, Deadline deadline,
               const std::function<bool()>& stop = {});

// Prints a transfer event (seed name, status, reason) on the timeline as `ua`.
void print_transfer_event(Timeline& t, std::string_view ua, const TransferEvent& e);
// Prints a session event (incoming_call, session_confirmed ...) as `ua`.
void print_session_event(Timeline& t, std::string_view ua, const SessionEvent& e);
// Prints a transferee event (refer_received, transfer_started, ...) as `ua`.
void print_transferee_event(Timeline& t, std::string_view ua, const TransfereeEvent& e);

// The --trace hook for EngineOptions::trace: prints every SIP message `ua` sends or receives to
// `err` under a line naming the direction, transport, peer and elapsed time, with the secrets of
// Authorization and Proxy-Authorization masked (mask_credentials). `t` and `err` must outlive it.
[[nodiscard]] std::function<void(runtime::TraceDirection, Transport, const Endpoint&, std::string_view)>
message_tracer(const Timeline& t, std::ostream& err, std::string ua);
// The message text as --trace prints it: LF line ends, credentials masked. Exposed for tests.
[[nodiscard]] std::string masked_message(std::string_view bytes);

}  // namespace referkit::cli
