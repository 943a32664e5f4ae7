println 'Hello, World!'
