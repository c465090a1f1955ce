SIP/2.0 400 Bad Request
Warning: 399 atlanta.com Your Event header field was malformed
