SIP/2.0 200 OK
Content-Type: application/sdp
Content-Length: 247

v=0
o=alice 2890844526 2890844526 IN IP4 host.anywhere.com
s= 
c=IN IP4 host.anywhere.com
t=0 0
m=audio 49170 RTP/AVP 0
a=rtpmap:0 PCMU/8000
m=video 51372 RTP/AVP 31
a=rtpmap:31 H261/90000
m=video 53000 RTP/AVP 32
a=rtpmap:32 MPV/90000
