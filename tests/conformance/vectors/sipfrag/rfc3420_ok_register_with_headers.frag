REGISTER sip:atlanta.com SIP/2.0
To: sip:alice@atlanta.com
Contact: <sip:alicepc@atlanta.com>;q=0.9,
         <sip:alicemobile@atlanta.com>;q=0.1
