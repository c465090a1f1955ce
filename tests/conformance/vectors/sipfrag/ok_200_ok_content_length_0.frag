SIP/2.0 200 OK
Content-Length: 0

