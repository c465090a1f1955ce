INVITE sip:alice@atlanta.com SIP/1.09
