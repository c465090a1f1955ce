// Internal to src/runtime: WS and WSS connections (RFC 7118), one SIP message per WebSocket
// message, subprotocol "sip" required.
#pragma once
#include <algorithm>
#include <climits>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "stream_connection.hpp"

namespace referkit::runtime {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;

inline std::string_view sv(beast::string_view s) { return {s.data(), s.size()}; }

inline bool has_sip_subprotocol(std::string_view header) {
    // Sec-WebSocket-Protocol is a comma list of tokens (RFC 6455 §11.3.4).
    while (!header.empty()) {
        auto comma = header.find(',');
        std::string_view item = header.substr(0, comma);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
        if (item == "sip") return true;
        if (comma == std::string_view::npos) break;
        header.remove_prefix(comma + 1);
    }
    return false;
}

template <class S>
struct WsConn final : Conn {
    static constexpr bool tls = std::is_same_v<S, TlsSocket>;

    WsConn(Engine::Impl& impl_, ConnectionId id_, Transport t, Endpoint remote_, bool outgoing_, tcp::socket socket,
           ssl::context* ctx, std::string path_)
        : Conn(impl_, id_, t, std::move(remote_), outgoing_), ws(make(std::move(socket), ctx)), path(std::move(path_)) {
        ws.read_message_max(impl_.opt.limits.max_message_size);
        ws.text(true);
    }

    static websocket::stream<S> make(tcp::socket&& socket, ssl::context* ctx) {
        if constexpr (tls) return websocket::stream<S>(std::move(socket), *ctx);
        else {
            (void)ctx;
            return websocket::stream<S>(std::move(socket));
        }
    }

    websocket::stream<S> ws;
    std::string path;
    beast::flat_buffer buffer;
    // Accepted: the upgrade request being read (headers only: a GET upgrade has no body), dropped
    // once the upgrade is done.
    std::optional<http::request_parser<http::empty_body>> upgrade_request;
    websocket::response_type response;
    // A WS message's bytes are copied out of `buffer` at once; after a large one the buffer's
    // memory is given back, so an idle connection is small again.
    static constexpr std::size_t shrink_above = 4096;

    void connect(const std::vector<asio::ip::address>& addresses) override {
        if (addresses.empty()) {
            connect_failed("no address");
            return;
        }
        std::vector<tcp::endpoint> eps;
        for (const auto& a : addresses) eps.emplace_back(a, remote.port);
        asio::async_connect(lowest(ws.next_layer()), eps,
                            [self = std::static_pointer_cast<WsConn>(shared_from_this())](const error_code& ec,
                                                                                         const tcp::endpoint& ep) {
                                if (self->state == State::closed) return;
                                if (ec) {
                                    self->connect_failed(ec.message());
                                    return;
                                }
                                self->remote = endpoint_of(ep.address(), ep.port());
                                if constexpr (tls) {
                                    configure_client_tls(self->ws.next_layer(), self->impl->opt.tls, self->dest_host);
                                    self->ws.next_layer().async_handshake(ssl::stream_base::client, [self](const error_code& e) {
                                        if (self->state == State::closed) return;
                                        if (e) {
                                            if (is_verify_failure(self->ws.next_layer()))
                                                ++self->impl->counters.tls_verify_failures;
                                            self->connect_failed(
                                                tls_failure(self->ws.next_layer(), e, self->impl->opt.tls, self->dest_host));
                                            return;
                                        }
                                        self->upgrade();
                                    });
                                } else {
                                    self->upgrade();
                                }
                            });
    }
    void upgrade() {
        // RFC 7118 §4: the client asks for the "sip" subprotocol.
        ws.set_option(websocket::stream_base::decorator(
            [](websocket::request_type& req) { req.set(http::field::sec_websocket_protocol, "sip"); }));
        const std::string host = format_hostport(Endpoint{dest_host, remote.port});
        ws.async_handshake(response, host, path,
                           [self = std::static_pointer_cast<WsConn>(shared_from_this())](const error_code& ec) {
                               if (self->state == State::closed) return;
                               if (ec) {
                                   self->connect_failed("WebSocket handshake failed: " + ec.message());
                                   return;
                               }
                               if (!has_sip_subprotocol(sv(self->response[http::field::sec_websocket_protocol]))) {
                                   self->connect_failed("the server did not accept the 'sip' subprotocol");
                                   return;
                               }
                               self->opened();
                               self->read();
                           });
    }
    void start_accepted() override {
        connect_deadline = impl->now() + std::chrono::duration_cast<Time>(impl->opt.connect_timeout);
        schedule();
        if constexpr (tls) {
            ws.next_layer().async_handshake(ssl::stream_base::server,
                                            [self = std::static_pointer_cast<WsConn>(shared_from_this())](const error_code& ec) {
                                                if (self->state == State::closed) return;
                                                if (ec) {
                                                    self->impl->log("TLS handshake from " + format_hostport(self->remote) +
                                                                    " failed: " + ec.message());
                                                    self->close(false);
                                                    return;
                                                }
                                                self->read_upgrade();
                                            });
        } else {
            read_upgrade();
        }
    }
    // RFC 6455 §4.2.1: the opening handshake is a GET request; its headers are bounded by
    // max_ws_upgrade_size and it may carry no body.
    void read_upgrade() {
        const std::size_t limit = std::max<std::size_t>(impl->opt.max_ws_upgrade_size, 512);
        upgrade_request.emplace();
        upgrade_request->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(limit, UINT32_MAX)));
        buffer.max_size(limit);  // never read far beyond the headers
        http::async_read_header(ws.next_layer(), buffer, *upgrade_request,
                                [self = std::static_pointer_cast<WsConn>(shared_from_this())](const error_code& ec,
                                                                                              std::size_t) {
                                    if (self->state == State::closed) return;
                                    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
                                        self->refuse_upgrade(http::status::request_header_fields_too_large, 11,
                                                             "headers larger than max_ws_upgrade_size",
                                                             "Upgrade request too large\r\n");
                                        return;
                                    }
                                    if (ec) {
                                        self->close(false);
                                        return;
                                    }
                                    self->accept_upgrade();
                                });
    }
    // Answers `status` with Connection: close, then closes.
    void refuse_upgrade(http::status status, unsigned version, const std::string& why, const std::string& body) {
        ++impl->counters.ws_rejected_handshakes;
        impl->log("WebSocket upgrade from " + format_hostport(remote) + " rejected: " + why);
        upgrade_request.reset();
        auto res = std::make_shared<http::response<http::string_body>>(status, version);
        res->set(http::field::connection, "close");
        res->body() = body;
        res->prepare_payload();
        http::async_write(ws.next_layer(), *res,
                          [self = shared_from_this(), res](const error_code&, std::size_t) { self->close(false); });
    }
    void accept_upgrade() {
        const auto& request = upgrade_request->get();
        if (upgrade_request->chunked() || upgrade_request->content_length().value_or(0) > 0) {
            refuse_upgrade(http::status::payload_too_large, request.version(), "the upgrade request has a body",
                           "An upgrade request has no body\r\n");
            return;
        }
        const bool ok = websocket::is_upgrade(request) && sv(request.target()) == path &&
                        has_sip_subprotocol(sv(request[http::field::sec_websocket_protocol]));
        if (!ok) {
            // RFC 7118 §4: without the "sip" subprotocol there is no SIP connection.
            refuse_upgrade(http::status::bad_request, request.version(),
                           "not an upgrade to " + path + " with subprotocol 'sip'",
                           "SIP over WebSocket needs Sec-WebSocket-Protocol: sip\r\n");
            return;
        }
        ws.set_option(websocket::stream_base::decorator(
            [](websocket::response_type& r) { r.set(http::field::sec_websocket_protocol, "sip"); }));
        ws.async_accept(request, [self = std::static_pointer_cast<WsConn>(shared_from_this())](const error_code& ec) {
            if (self->state == State::closed) return;
            self->upgrade_request.reset();
            if (ec) {
                self->close(false);
                return;
            }
            self->buffer = beast::flat_buffer();  // the upgrade's buffer, no limit (read_message_max bounds)
            self->opened();
            self->read();
        });
    }
    void read() {
        ws.async_read(buffer, [self = std::static_pointer_cast<WsConn>(shared_from_this())](const error_code& ec, std::size_t) {
            if (self->state == State::closed || self->state == State::closing) return;
            if (ec) {
                if (ec == websocket::error::message_too_big) {
                    ++self->impl->counters.ws_oversized_messages;
                    self->impl->log(self->transport_name_s() + " " + format_hostport(self->remote) +
                                    ": message larger than max_message_size, closing");
                } else if (ec != websocket::error::closed && ec != asio::error::eof) {
                    self->impl->log(self->transport_name_s() + " " + format_hostport(self->remote) + ": " + ec.message());
                }
                self->close(true);
                return;
            }
            auto data = self->buffer.data();
            SharedBuffer bytes = SharedBuffer::copy_of(
                std::string_view(static_cast<const char*>(data.data()), data.size()));
            self->buffer.consume(self->buffer.size());
            if (self->buffer.capacity() > shrink_above) self->buffer.shrink_to_fit();
            // Not SIP, or broken: the core answers 400 when it can read enough, else drops and counts.
            self->deliver(std::move(bytes));
            if (self->state == State::open) self->read();
        });
    }
    void write_front() override {
        ws.async_write(asio::buffer(queue.front().bytes.data(), queue.front().bytes.size()),
                       [self = shared_from_this()](const error_code& ec, std::size_t) { self->written(ec); });
    }
    void close_stream() override {
        error_code ignored;
        lowest(ws.next_layer()).close(ignored);
    }
    [[nodiscard]] bool crlf_keepalive() const override { return false; }
};


}  // namespace referkit::runtime
