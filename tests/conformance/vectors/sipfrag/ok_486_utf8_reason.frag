SIP/2.0 486 Occupé – réessayez plus tard
