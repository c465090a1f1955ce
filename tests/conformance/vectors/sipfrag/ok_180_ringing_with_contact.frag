SIP/2.0 180 Ringing
Contact: <sip:b@x>

