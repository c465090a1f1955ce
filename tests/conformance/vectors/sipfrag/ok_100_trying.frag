SIP/2.0 100 Trying
