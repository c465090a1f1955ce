SIP/2.0 99 Low
