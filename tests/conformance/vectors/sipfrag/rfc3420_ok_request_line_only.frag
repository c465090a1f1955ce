INVITE sip:alice@atlanta.com SIP/2.0
