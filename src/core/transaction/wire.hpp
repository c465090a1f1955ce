// Building the messages the transaction layer sends on its own or on the TU's behalf: Via
// insertion, responses copied from a request (§8.2.6), the ACK for a non-2xx (§17.1.1.3), CANCEL
// (§9.1), synthesised 408/503 (§8.1.3.1), the answer to a malformed request, and the response
// destination of §18.2.2.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "referkit/core/error.hpp"
#include "referkit/core/message.hpp"
#include "referkit/core/transaction_layer.hpp"
#include "referkit/core/transport.hpp"
#include "referkit/core/writer.hpp"

namespace referkit::txn {

// Value with folded line breaks replaced by one space (append_unfolded, writer.hpp).
[[nodiscard]] std::string unfold(std::string_view value);
// Appends "Name: value\r\n" with value unfolded.
void append_header(std::string& out, std::string_view name, std::string_view value);

// "SIP/2.0/<T> <sent-by>;branch=<branch>;rport"
[[nodiscard]] std::string make_via(Transport t, std::string_view sent_by, std::string_view branch);
// The same, written over `out` (a buffer the caller reuses).
void make_via_into(std::string& out, Transport t, std::string_view sent_by, std::string_view branch);
// The request with "Via: <via>\r\n" inserted after its start line; nullopt when there is no
// start line (no CRLF).
[[nodiscard]] std::optional<std::string> insert_via(std::string_view request, std::string_view via);

// The request's top Via as the response carries it: received (RFC 3261 §18.2.1) and rport
// (RFC 3581 §4) filled in from the source.
[[nodiscard]] std::string response_top_via(const Via& via, const Source& from);
void append_response_top_via(std::string& out, const Via& via, const Source& from);
// Where a response to a request whose top Via is `via`, received from `from`, goes (§18.2.2,
// RFC 3581 §4).
[[nodiscard]] Destination response_destination(const Via& via, const Source& from);

// The response header block copied from a request, except To: all Via lines (the top one
// rewritten by response_top_via), then From, Call-ID, CSeq; and the request's To and Timestamp
// values. One string, so a server transaction keeps it in one allocation.
struct ResponseHead {
    std::string text;  // the Via lines, the From, Call-ID, CSeq lines, the To value, the Timestamp value
    std::uint32_t vias_end = 0, rest_end = 0, to_end = 0;
    bool to_has_tag = false;

    [[nodiscard]] std::string_view vias() const noexcept { return std::string_view(text).substr(0, vias_end); }
    [[nodiscard]] std::string_view rest() const noexcept {
        return std::string_view(text).substr(vias_end, rest_end - vias_end);
    }
    // The To value, unfolded.
    [[nodiscard]] std::string_view to() const noexcept { return std::string_view(text).substr(rest_end, to_end - rest_end); }
    // The Timestamp value ("" when none), for 100 Trying (§8.2.6.1).
    [[nodiscard]] std::string_view timestamp() const noexcept { return std::string_view(text).substr(to_end); }
};
[[nodiscard]] ResponseHead response_head(const Message& request, const Source& from);

// A complete response. Returns nullopt when the spec carries a bad header name/value, or a header
// the layer writes itself (Via, From, To, Call-ID, CSeq, Content-Length, Content-Type).
[[nodiscard]] std::optional<std::string> build_response(const ResponseHead& head, const ResponseSpec& spec,
                                                        std::string_view extra_header_line = {});

// What a client transaction keeps of its request for the messages derived from it: the fields of
// an OutgoingRequest without the other headers and the body, in one string.
class RequestFields {
public:
    std::uint32_t cseq = 0;

    [[nodiscard]] std::string_view method() const noexcept { return view(method_); }
    [[nodiscard]] std::string_view request_uri() const noexcept { return view(request_uri_); }
    [[nodiscard]] std::string_view from() const noexcept { return view(from_); }
    [[nodiscard]] std::string_view to() const noexcept { return view(to_); }
    [[nodiscard]] std::string_view call_id() const noexcept { return view(call_id_); }
    [[nodiscard]] std::size_t route_count() const noexcept { return routes_.size(); }
    [[nodiscard]] std::string_view route(std::size_t i) const noexcept { return view(routes_[i]); }

private:
    struct Span {
        std::uint32_t at = 0, size = 0;
    };
    friend RequestFields fields_of(const OutgoingRequest& request);
    friend RequestFields fields_of(const Message& request);
    [[nodiscard]] std::string_view view(Span s) const noexcept { return std::string_view(storage_).substr(s.at, s.size); }
    Span add(std::string_view v, bool unfolded = false);

    std::string storage_;
    Span method_, request_uri_, from_, to_, call_id_;
    std::vector<Span> routes_;
};
// The fields of a request given as fields (its other headers and body are not kept).
[[nodiscard]] RequestFields fields_of(const OutgoingRequest& request);
// The fields of a parsed request (the TU handed the layer bytes).
[[nodiscard]] RequestFields fields_of(const Message& request);

// The ACK for a non-2xx final response (§17.1.1.3): the request's Request-URI, top Via (`top_via`),
// Route, From, Call-ID and CSeq number, the response's To.
[[nodiscard]] std::string build_ack(const RequestFields& request, std::string_view top_via, const Message& response);
// A CANCEL for the request (§9.1): the same Request-URI, top Via, Route, From, To, Call-ID and CSeq number.
[[nodiscard]] OutgoingRequest cancel_request(const RequestFields& request);
// A response made up locally for the TU (408 timeout, 503 transport error, §8.1.3.1); its Via is
// `top_via`, the request's own.
[[nodiscard]] std::optional<Message> synthesise_response(const RequestFields& request, std::string_view top_via,
                                                        int status);

// The answer to a request that did not parse, when its Via, From, To, Call-ID and CSeq can still
// be read (and it is not an ACK); nullopt otherwise. The status is error.status.
struct MalformedAnswer {
    std::string bytes;
    Destination destination;
};
// Its To tag is stateless_tag() of the request's fields.
[[nodiscard]] std::optional<MalformedAnswer> answer_malformed(std::string_view bytes, const ParseError& error,
                                                              const Source& from);

// The To tag of a stateless answer (481, 503, malformed requests): a hash of the Call-ID, the From
// tag and the top Via branch, so a retransmitted request gets the same tag (§8.2.7). 16 hex digits.
[[nodiscard]] std::string stateless_tag(std::string_view call_id, std::string_view from_tag, std::string_view branch);
// True when a start line begins with "SIP/" in any case (a response, never answered).
[[nodiscard]] bool starts_with_sip_version(std::string_view start);

// Appends the decimal digits of v.
void append_uint(std::string& out, std::uint64_t v);
// Lower-case copy (hosts in matching keys).
[[nodiscard]] std::string lower(std::string_view s);
// Appends a lower-case copy.
void append_lower(std::string& out, std::string_view s);

}  // namespace referkit::txn
