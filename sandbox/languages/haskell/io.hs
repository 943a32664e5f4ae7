import System.Exit
import System.IO

main :: IO ()
main = do
  [a, b] <- map read . words <$> getLine :: IO [Integer]
  print (a * b)
  hPutStrLn stderr "warn"
  exitWith (ExitFailure 3)
