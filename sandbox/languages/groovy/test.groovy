println 'OK'
