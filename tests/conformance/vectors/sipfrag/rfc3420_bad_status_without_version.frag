404 Not Found
