INVITE sip:alice@atlanta.com SIP/2.0
Via: SIP/2.0/UDP ;branch=z9hG4bK29342a
To: <>;tag=39234
To: sip:alice@atlanta.com
From: sip:bob@biloxi.com;tag=1992312
Call-ID: this is invalid
