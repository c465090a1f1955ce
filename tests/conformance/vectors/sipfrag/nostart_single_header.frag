Contact: <sip:b@x>
