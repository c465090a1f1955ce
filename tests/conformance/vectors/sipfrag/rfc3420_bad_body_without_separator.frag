MESSAGE sip:alice@atlanta.com SIP/2.0
Hi There!
