Content-Type: text/plain
Content-Length: 11

Hi There!
