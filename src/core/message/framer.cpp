#include "referkit/core/framer.hpp"

#include <algorithm>
#include <cstring>

#include "lex.hpp"
#include "referkit/core/header_id.hpp"
#include "referkit/core/headers.hpp"

namespace referkit {

using lex::error;

std::expected<std::optional<Frame>, ParseError> StreamFramer::fail(ParseError e) {
    // Offsets count from the start of the stream; past 4 GiB they saturate.
    e.offset = static_cast<std::uint32_t>(std::min<std::uint64_t>(e.offset + base_ + start_, 0xffffffffu));
    failed_ = e;
    return std::unexpected(e);
}

namespace {
// What every call after the first failure returns: the stream cannot be resynchronised.
ParseError after_failure(const ParseError& first) {
    return ParseError{ErrorCode::stream_failed, first.offset, first.status, "the stream already failed: close the connection"};
}
}  // namespace

std::expected<void, ParseError> StreamFramer::feed(std::string_view bytes) {
    if (failed_) return std::unexpected(after_failure(*failed_));
    if (pending() + bytes.size() > limits_.max_pending_stream_bytes) {
        ParseError e = error(ErrorCode::message_too_large, pending(), "stream holds more unframed bytes than Limits::max_pending_stream_bytes", 513);
        e.offset += static_cast<std::uint32_t>(base_ + start_);
        failed_ = e;
        return std::unexpected(e);
    }
    buf_.append(bytes);
    return {};
}

void StreamFramer::compact() {
    if (start_ == 0) return;
    if (start_ == buf_.size()) {
        base_ += start_;
        buf_.clear();
        scan_ = 0;
        start_ = 0;
        return;
    }
    if (start_ < 4096 && start_ * 2 < buf_.size()) return;  // not worth moving yet
    base_ += start_;
    buf_.erase(0, start_);
    scan_ -= start_;
    if (body_start_) body_start_ -= start_;
    start_ = 0;
}

std::expected<std::optional<Frame>, ParseError> StreamFramer::next() {
    if (failed_) return std::unexpected(after_failure(*failed_));
    const char* b = buf_.data();
    const std::size_t n = buf_.size();

    if (body_start_ == 0) {
        // Keep-alives (RFC 5626 §3.5.1) and CRLFs before a start line (§7.5).
        if (scan_ < start_) scan_ = start_;
        if (start_ < n && (b[start_] == '\r' || b[start_] == '\n')) {
            if (role_ == StreamRole::client) {
                // A client reads a single CRLF as the server's pong.
                if (b[start_] == '\n') { ++start_; scan_ = start_; compact(); return Frame{Frame::Kind::pong, {}}; }
                if (start_ + 1 >= n) return std::optional<Frame>{};
                if (b[start_ + 1] != '\n') return fail(error(ErrorCode::bad_line_ending, 0, "CR not followed by LF"));
                start_ += 2;
                scan_ = start_;
                compact();
                return Frame{Frame::Kind::pong, {}};
            }
            // A server waits for the double CRLF ping; a lone CRLF before a message is skipped.
            std::size_t i = start_;
            int lfs = 0;
            while (i < n && (b[i] == '\r' || b[i] == '\n') && lfs < 2) {
                if (b[i] == '\r' && (i + 1 >= n)) return std::optional<Frame>{};  // CR at the end: wait for its LF
                if (b[i] == '\r' && b[i + 1] != '\n') return fail(error(ErrorCode::bad_line_ending, i - start_, "CR not followed by LF"));
                i += b[i] == '\r' ? 2 : 1;
                ++lfs;
            }
            if (lfs == 2) { start_ = i; scan_ = start_; compact(); return Frame{Frame::Kind::ping, {}}; }
            if (i >= n) return std::optional<Frame>{};   // wait: a ping or a message may follow
            start_ = i;                                   // one CRLF then a message: skip it (§7.5)
            scan_ = start_;
        }
        // Search for the end of the headers from where the last search stopped (never rescan).
        std::size_t from = scan_ > start_ + 3 ? scan_ - 3 : start_;
        std::size_t hdr_end = 0;
        for (std::size_t i = from; i < n; ++i) {
            if (b[i] != '\n') continue;
            if (i + 1 < n && b[i + 1] == '\n') { hdr_end = i + 2; break; }
            if (i + 2 < n && b[i + 1] == '\r' && b[i + 2] == '\n') { hdr_end = i + 3; break; }
        }
        if (hdr_end == 0) {
            scan_ = n;
            if (n - start_ > limits_.max_message_size)
                return fail(error(ErrorCode::message_too_large, limits_.max_message_size, "headers larger than Limits::max_message_size", 513));
            return std::optional<Frame>{};
        }
        // Find Content-Length (or "l") among the complete header lines, unfolding as needed.
        std::optional<std::uint64_t> cl;
        std::size_t i = start_;
        // skip start line
        while (i < hdr_end && b[i] != '\n') ++i;
        ++i;
        while (i < hdr_end) {
            std::size_t ls = i;
            while (i < hdr_end && lex::is(b[i], lex::k_token)) ++i;
            std::string_view name(b + ls, i - ls);
            std::size_t vs = i;
            while (true) {  // to the end of this (possibly folded) header line
                while (i < hdr_end && b[i] != '\n') ++i;
                ++i;
                if (i < hdr_end && lex::is_ws(b[i])) continue;
                break;
            }
            if (name.size() == 1 || name.size() == 14) {
                HeaderId id = lookup_header(name);
                if (id == HeaderId::content_length) {
                    std::string_view rest(b + vs, i - vs);
                    std::size_t colon = rest.find(':');
                    if (colon == std::string_view::npos)
                        return fail(error(ErrorCode::bad_header_name, vs - start_, "':' expected after the header name"));
                    auto v = parse_uint(rest.substr(colon + 1), 0xffffffffu);
                    if (!v || (cl && *cl != *v))
                        return fail(error(ErrorCode::bad_content_length, vs - start_, "Content-Length must be one non-negative decimal number"));
                    cl = *v;
                }
            }
        }
        if (hdr_end - start_ > limits_.max_message_size)
            return fail(error(ErrorCode::message_too_large, limits_.max_message_size, "headers larger than Limits::max_message_size", 513));
        if (!cl) return fail(error(ErrorCode::missing_content_length, hdr_end - start_, "Content-Length required on stream transports"));
        if (hdr_end - start_ + *cl > limits_.max_message_size)
            // The headers fit; the announced body does not: the message would be too large, 513
            // (RFC 3261 §21.5.14), as Message::parse answers the same bytes.
            return fail(error(ErrorCode::message_too_large, 0, "announced body makes the message larger than Limits::max_message_size", 513));
        body_start_ = hdr_end;
        body_len_ = static_cast<std::size_t>(*cl);
    }
    if (n - body_start_ < body_len_) return std::optional<Frame>{};
    std::size_t end = body_start_ + body_len_;
    Frame f{Frame::Kind::message, SharedBuffer::copy_of(std::string_view(b + start_, end - start_))};
    start_ = end;
    scan_ = end;
    body_start_ = 0;
    body_len_ = 0;
    compact();
    return f;
}

}  // namespace referkit
