INVITE sip:alice@atlanta.com SIP/2.0
From: <sip:bob@biloxi.com>;tag=z9hG4bK2912;tag=z9hG4bK99234
