#include "referkit/core/error.hpp"

#include <string>

namespace referkit {

std::string_view to_string(ErrorCode code) noexcept {
    switch (code) {
        case ErrorCode::empty_message: return "empty_message";
        case ErrorCode::message_too_large: return "message_too_large";
        case ErrorCode::too_many_headers: return "too_many_headers";
        case ErrorCode::line_too_long: return "line_too_long";
        case ErrorCode::uri_too_long: return "uri_too_long";
        case ErrorCode::too_many_params: return "too_many_params";
        case ErrorCode::bad_start_line: return "bad_start_line";
        case ErrorCode::bad_method: return "bad_method";
        case ErrorCode::bad_version: return "bad_version";
        case ErrorCode::unsupported_version: return "unsupported_version";
        case ErrorCode::bad_status_code: return "bad_status_code";
        case ErrorCode::bad_reason_phrase: return "bad_reason_phrase";
        case ErrorCode::bad_request_uri: return "bad_request_uri";
        case ErrorCode::bad_header_name: return "bad_header_name";
        case ErrorCode::bad_header_value: return "bad_header_value";
        case ErrorCode::bad_line_ending: return "bad_line_ending";
        case ErrorCode::missing_header: return "missing_header";
        case ErrorCode::duplicate_header: return "duplicate_header";
        case ErrorCode::bad_content_length: return "bad_content_length";
        case ErrorCode::body_truncated: return "body_truncated";
        case ErrorCode::missing_content_length: return "missing_content_length";
        case ErrorCode::cseq_method_mismatch: return "cseq_method_mismatch";
        case ErrorCode::bad_uri: return "bad_uri";
        case ErrorCode::bad_scheme: return "bad_scheme";
        case ErrorCode::bad_host: return "bad_host";
        case ErrorCode::bad_port: return "bad_port";
        case ErrorCode::bad_escape: return "bad_escape";
        case ErrorCode::bad_name_addr: return "bad_name_addr";
        case ErrorCode::bad_quoted_string: return "bad_quoted_string";
        case ErrorCode::bad_param: return "bad_param";
        case ErrorCode::bad_via: return "bad_via";
        case ErrorCode::bad_cseq: return "bad_cseq";
        case ErrorCode::bad_call_id: return "bad_call_id";
        case ErrorCode::bad_number: return "bad_number";
        case ErrorCode::bad_token: return "bad_token";
        case ErrorCode::bad_auth: return "bad_auth";
        case ErrorCode::bad_sipfrag: return "bad_sipfrag";
        case ErrorCode::header_absent: return "header_absent";
        case ErrorCode::stream_failed: return "stream_failed";
    }
    return "unknown";
}

std::string_view reason_phrase(int status) noexcept {
    switch (status) {
        case 100: return "Trying";
        case 180: return "Ringing";
        case 181: return "Call Is Being Forwarded";
        case 182: return "Queued";
        case 183: return "Session Progress";
        case 200: return "OK";
        case 202: return "Accepted";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 406: return "Not Acceptable";
        case 407: return "Proxy Authentication Required";
        case 408: return "Request Timeout";
        case 413: return "Request Entity Too Large";
        case 414: return "Request-URI Too Long";
        case 415: return "Unsupported Media Type";
        case 416: return "Unsupported URI Scheme";
        case 420: return "Bad Extension";
        case 421: return "Extension Required";
        case 480: return "Temporarily Unavailable";
        case 481: return "Call/Transaction Does Not Exist";
        case 482: return "Loop Detected";
        case 483: return "Too Many Hops";
        case 486: return "Busy Here";
        case 487: return "Request Terminated";
        case 488: return "Not Acceptable Here";
        case 489: return "Bad Event";
        case 491: return "Request Pending";
        case 500: return "Server Internal Error";
        case 501: return "Not Implemented";
        case 503: return "Service Unavailable";
        case 504: return "Server Time-out";
        case 505: return "Version Not Supported";
        case 513: return "Message Too Large";
        case 600: return "Busy Everywhere";
        case 603: return "Decline";
        case 604: return "Does Not Exist Anywhere";
        case 606: return "Not Acceptable";
        default: return "";
    }
}

std::string ParseError::describe() const {
    std::string s = "offset " + std::to_string(offset) + ": " + std::string(what) + " (" + std::to_string(status);
    if (auto r = reason_phrase(status); !r.empty()) {
        s += ' ';
        s += r;
    }
    s += ')';
    return s;
}

}  // namespace referkit
